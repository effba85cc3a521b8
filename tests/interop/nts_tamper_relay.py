#!/usr/bin/env python3
"""nts_tamper_relay.py LISTEN_ADDR SERVER_ADDR COUNTS_FILE

A UDP relay for NTS-protected NTP (RFC 8915) that spoils some replies, for
run-nts-interop.sh's nts-tamper scenario. It answers clients on
LISTEN_ADDR:123 and passes their requests to SERVER_ADDR:123 unchanged;
of the server's replies, counted from 1:

  * every 4th from the 2nd (2, 6, 10, ...) goes back spoilt: "tampered".
    The 2nd, 10th, ... with one octet of its NTS Authenticator's tag (the
    SIV, the first octet of the ciphertext) flipped; the 6th, 14th, ... with
    its receive and transmit timestamps half a second later (what an
    attacker wants: the header is the AEAD's associated data, so the tag no
    longer fits). Used, the first adds a sample, the second a 0.5 s offset;
  * before every 4th from the 4th (4, 8, ...), the previous reply (which
    went through unchanged) is sent again: "replayed" (its Unique Identifier
    answers an old request); the new reply follows unchanged;
  * the rest go back unchanged: "forwarded" (the 4th, 8th, ... too).

Once listening, and after each reply, it rewrites COUNTS_FILE with the
counts (and of requests) as JSON.
It serves one client at a time (the last one heard) and runs until killed.
"""
import json
import os
import socket
import sys

AUTHENTICATOR = 0x0404  # NTS Authenticator and Encrypted Extension Fields
HEADER = 48


def tag_offset(packet: bytes) -> int:
    """Offset of the first octet of the authenticator's ciphertext (the SIV
    tag), or -1 if the packet has no authenticator."""
    at = HEADER
    while at + 4 <= len(packet):
        ef_type = int.from_bytes(packet[at:at + 2], "big")
        length = int.from_bytes(packet[at + 2:at + 4], "big")
        if length < 4:
            return -1
        if ef_type == AUTHENTICATOR and at + 8 <= len(packet):
            nonce_length = int.from_bytes(packet[at + 4:at + 6], "big")
            padded_nonce = (nonce_length + 3) // 4 * 4
            offset = at + 8 + padded_nonce
            return offset if offset < len(packet) else -1
        at += length
    return -1


def main() -> None:
    listen, server, counts_file = sys.argv[1], sys.argv[2], sys.argv[3]
    clients = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    clients.bind((listen, 123))
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.connect((server, 123))
    counts = {"forwarded": 0, "tampered": 0, "replayed": 0, "requests": 0}
    replies = []
    client = None
    write_counts(counts_file, counts)  # bound: ready
    while True:
        # One request, then its reply (the client waits for it): a relay
        # that needs no event loop. A lost reply frees it after 2 s.
        request, client = clients.recvfrom(2048)
        counts["requests"] += 1
        upstream.send(request)
        upstream.settimeout(2.0)
        try:
            reply = upstream.recv(2048)
        except socket.timeout:
            continue
        replies.append(reply)
        n = len(replies)
        if n % 4 == 2:
            spoilt = bytearray(reply)
            if n % 8 == 2:
                at = tag_offset(reply)
                if at < 0:
                    sys.exit(f"reply {n} has no NTS authenticator")
                spoilt[at] ^= 0x01
            else:
                for at in (32, 40):  # receive, transmit: 32.32 fixed point
                    t = int.from_bytes(reply[at:at + 8], "big") + (1 << 31)
                    spoilt[at:at + 8] = (t % (1 << 64)).to_bytes(8, "big")
            clients.sendto(bytes(spoilt), client)
            counts["tampered"] += 1
        else:
            if n % 4 == 0:
                clients.sendto(replies[n - 2], client)
                counts["replayed"] += 1
            clients.sendto(reply, client)
            counts["forwarded"] += 1
        write_counts(counts_file, counts)


def write_counts(counts_file: str, counts: dict) -> None:
    with open(counts_file + ".new", "w") as f:
        json.dump(counts, f)
    os.replace(counts_file + ".new", counts_file)


if __name__ == "__main__":
    main()
