// SPDX-License-Identifier: GPL-2.0
/*
 * Kbuild probe: genlmsg_multicast_allns() still takes a gfp_t. Stable 6.1.y
 * dropped the argument (the all-namespaces walk runs under RCU, so only
 * GFP_ATOMIC was ever safe there).
 */
#include <net/genetlink.h>

int probe_allns(const struct genl_family *family, struct sk_buff *skb)
{
	return genlmsg_multicast_allns(family, skb, 0, 0, GFP_ATOMIC);
}
