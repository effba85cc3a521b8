// snapshot_json.hpp - JSON form of the snapshot structs, both directions
// (the daemon writes them, nanotimectl reads them). Field names are the
// struct member names.
#pragma once

#include <nlohmann/json.hpp>

#include "ctl/snapshot.hpp"

namespace nanotime::ctl {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DisciplineInfo, adjusting, updates,
                                                last_update_age_s, polls_since_update,
                                                frequency_limited, frequency_ppm, max_frequency_ppm,
                                                stalled, stall_polls, restarts, slewing, faults)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(InterfaceTimestampingInfo, name, rx, tx,
                                                hardware_capable, hardware_requested, phc_index,
                                                rx_filter, reason)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    StatusInfo, version, pid, uptime_s, io_backend, io_detail, clock_backend, clock_device,
    synchronized, stratum, reference_id, leap, sources, sources_reachable, server_enabled,
    server_received, server_responded, server_denied, server_rate_limited, server_malformed,
    datagrams_truncated, log_suppressed, leap_file, leap_file_expires_s, next_leap_s, tai_offset,
    realtime_steering, realtime_offset_s, realtime_steps, replies_across_step, discipline,
    interfaces)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    TrackingInfo, reference_id, reference_name, stratum, reference_time_s, system_offset_s,
    system_offset_age_s, offset_sd_s, frequency_ppm, residual_frequency_ppm, skew_ppm, std_dev_s,
    root_delay_s, root_dispersion_s, root_dispersion_rate_ppm, jitter_s, update_interval_s, leap)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SourceInfo, name, address, kind, state, stratum,
                                                poll, reach, last_rx_ago_s, sample_time_s, offset_s,
                                                delay_s, outlier, dispersion_s, jitter_s, nts,
                                                last_interleaved, tx_timestamp_source,
                                                rx_timestamp_source, samples, rejected, last_error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AuthDataInfo, name, address, mode, aead, cookies,
                                                key_exchanges, key_exchanges_ok,
                                                key_exchanges_failed, last_key_exchange_ago_s, naks,
                                                rejected, last_error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    ServerStatsInfo, ntp, ntp_received, ntp_responded, ntp_denied, ntp_rate_limited, ntp_malformed,
    ntp_interleaved, ntp_tx_stamps, nts, nts_authentic, nts_nak, nts_dropped, nts_malformed,
    nts_missing_field, nts_auth_failed, nts_no_sealing_key, nts_crypto_failure, cookie_unknown_key,
    cookie_auth_failed, cookie_bad_contents, nts_ke, ke_accepted, ke_keys_issued,
    ke_no_common_protocol, ke_no_common_aead, ke_bad_request, ke_unrecognized_critical,
    ke_internal_error, ke_tls_failed, ke_timed_out, ke_refused, ke_certificate_reloads, ke_pool,
    ke_pool_support_served, ke_pool_fixed_key_served, ke_pool_refused_no_certificate,
    ke_pool_refused_certificate, ke_pool_refused_token, ke_pool_refused_malformed,
    ke_pool_refused_protocol, ke_pool_refused_aead, ke_pool_refused_internal,
    ke_pool_keep_alive_sessions, ke_pool_keep_alive_refused, ke_pool_keep_alive_open,
    ke_server_deny, keys, keys_writer, keys_held, key_sealing_id, key_next_check_s, key_rotations,
    key_loads, key_failures, key_last_error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ClientInfo, address, ntp_requests, ntp_drops,
                                                ntp_kod, nts_requests, ntp_interleaved,
                                                last_seen_ago_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ClientsInfo, ntp, rate_limit, tracked, truncated,
                                                max_rows, reset, clients)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SourceStatsInfo, name, samples, samples_used,
                                                outliers, span_s, frequency_ppm, skew_ppm, offset_s,
                                                offset_sd_s, std_dev_s, min_delay_s, delay_s,
                                                jitter_s, dispersion_s, requests, replies,
                                                kernel_tx_timestamps, interleaved,
                                                replies_across_step)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    NtpDataInfo, name, address, port, has_exchange, leap, version, mode, stratum, poll, precision,
    root_delay_s, root_dispersion_s, reference_id, reference_time, local_transmit, remote_receive,
    remote_transmit, local_receive, offset_s, delay_s, dispersion_s, response_time_s, age_s,
    interleaved, authenticated, tx_timestamp_source, rx_timestamp_source, total_tx, total_rx,
    total_valid_rx)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SelectDataInfo, name, address, state_code, state,
                                                reason, noselect, prefer, reach, last_sample_ago_s,
                                                root_distance_s, interval_low_s, interval_high_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ActivityInfo, online, offline, burst_online,
                                                burst_offline, unresolved)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KernelInfo, clock, available, state, state_name,
                                                status, offset_s, frequency_ppm, max_error_s,
                                                est_error_s, time_constant, precision_s,
                                                tolerance_ppm, tick_s, tai_offset, netlink,
                                                ptp_index, events, events_lost, last_events)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PpsSourceInfo, name, kind, pps_device, clock, time,
                                                frequency, configured, binding_error, edges, fed,
                                                rejected, popcorn, gaps, phase_s, jitter_s,
                                                wander_s, cost_mean_s, cost_max_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PpsBridgeInfo, device, source, edge, offset_s, open,
                                                signal, edges, injected, missed, stale, refused,
                                                fetch_errors, last_error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PpsInfo, available, signal, discipline_frequency,
                                                discipline_time, frequency_ppm, jitter_s,
                                                interval_log2, stability_ppm, calibrations,
                                                jitter_exceeded, calibration_errors,
                                                stability_exceeded, sources, bridges)

}  // namespace nanotime::ctl
