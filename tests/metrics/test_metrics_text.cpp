// test_metrics_text.cpp - the daemon's metrics written out from a made-up
// MetricsData: names, labels, derived values (unanswered polls, poll
// interval, ignored packets), sections present only when their role is.
#include <gtest/gtest.h>

#include "metrics/metrics_text.hpp"

namespace nanotime::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

MetricsData sample_data() {
    MetricsData d;
    d.snapshot.status.version = "0.1.0";
    d.snapshot.status.stratum = 3;
    d.snapshot.status.leap = "insert";
    d.snapshot.tracking.root_delay_s = 0.5;
    ctl::SourceInfo s;
    s.name = "time.example";
    s.address = "192.0.2.1";
    s.kind = "server";
    s.state = "selected";
    s.poll = 4;
    s.reach = 0b11111000;  // the last three polls unanswered
    s.offset_s = -0.000125;
    s.nts = true;
    d.snapshot.sources.push_back(s);
    ctl::SourceStatsInfo st;
    st.offset_sd_s = 2e-5;
    st.requests = 9;
    d.snapshot.sourcestats.push_back(st);
    ctl::AuthDataInfo a;
    a.cookies = 7;
    a.key_exchanges_ok = 2;
    a.key_exchanges_failed = 1;
    d.snapshot.authdata.push_back(a);
    SourceMetrics sm;
    sm.root_delay_s = 0.015625;
    sm.root_dispersion_s = 0.25;
    Histogram h(offset_buckets());
    h.observe(-0.000125);
    sm.offset = h.data();
    d.sources.push_back(sm);
    d.clock_steps = 2;
    d.clock_stepped_s = 1.5;
    d.system_offset = Histogram(offset_buckets()).data();
    return d;
}

TEST(MetricsText, SystemAndSourceMetricsWithNtpdRsNames) {
    const std::string t = render_metrics(sample_data());
    EXPECT_TRUE(has_line(t, "nanotime_uptime_seconds{version=\"0.1.0\"} 0")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_system_stratum 3"));
    EXPECT_TRUE(has_line(t, "nanotime_system_leap_indicator 1"));
    EXPECT_TRUE(has_line(t, "nanotime_system_root_delay_seconds 0.5"));
    EXPECT_TRUE(has_line(t, "nanotime_system_steps_total 2"));
    EXPECT_TRUE(has_line(t, "nanotime_system_accumulated_steps_seconds 1.5"));
    const std::string src = "{name=\"time.example\",address=\"192.0.2.1\"}";
    EXPECT_TRUE(has_line(t, "nanotime_source_poll_interval_seconds" + src + " 16"));
    EXPECT_TRUE(has_line(t, "nanotime_source_unanswered_polls" + src + " 3"));
    EXPECT_TRUE(has_line(t, "nanotime_source_offset_seconds" + src + " -0.000125"));
    EXPECT_TRUE(has_line(t, "nanotime_source_uncertainty_seconds" + src + " 2e-05"));
    EXPECT_TRUE(has_line(t, "nanotime_source_root_delay_seconds" + src + " 0.015625"));
    EXPECT_TRUE(has_line(t, "nanotime_source_root_dispersion_seconds" + src + " 0.25"));
    EXPECT_TRUE(has_line(t, "nanotime_source_requests_total" + src + " 9"));
    EXPECT_TRUE(has_line(t, "nanotime_source_nts_cookies" + src + " 7"));
    EXPECT_TRUE(has_line(t,
                         "nanotime_source_nts_key_exchanges_total{name=\"time.example\","
                         "address=\"192.0.2.1\",result=\"failed\"} 1"));
    EXPECT_TRUE(has_line(t,
                         "nanotime_source_sample_offset_seconds_bucket{name=\"time.example\","
                         "address=\"192.0.2.1\",le=\"-1e-04\"} 1"));
    EXPECT_TRUE(has_line(t, "# TYPE nanotime_clock_update_offset_seconds histogram"));
    EXPECT_TRUE(has_line(t, "nanotime_clock_update_offset_seconds_count 0"));
}

TEST(MetricsText, UnreachableSourceHasEightUnansweredPolls) {
    MetricsData d = sample_data();
    d.snapshot.sources[0].reach = 0;
    EXPECT_NE(render_metrics(d).find("nanotime_source_unanswered_polls{name=\"time.example\","
                                     "address=\"192.0.2.1\"} 8\n"),
              std::string::npos);
}

TEST(MetricsText, ServerSectionsOnlyWhenServing) {
    MetricsData d = sample_data();
    std::string t = render_metrics(d);
    EXPECT_EQ(t.find("nanotime_server_"), std::string::npos);
    EXPECT_EQ(t.find("nanotime_nts_ke_"), std::string::npos);
    EXPECT_EQ(t.find("nanotime_kernel_"), std::string::npos);  // the clock was not read
    d.snapshot.serverstats.ntp = true;
    d.server.received = 10;
    d.server.replied = 5;
    d.server.malformed = 1;
    d.server.wrong_mode = 1;
    d.server.nts_dropped = 1;
    d.server.rate_limited_kod = 1;
    d.server.rate_limited_dropped = 1;
    d.server.interleaved = 3;
    d.server.tx_stamps = 2;
    d.server_latency = Histogram(latency_buckets()).data();
    d.snapshot.serverstats.nts_ke = true;
    d.snapshot.serverstats.ke_keys_issued = 4;
    d.snapshot.serverstats.ke_tls_failed = 2;
    d.snapshot.kernel.available = true;
    d.snapshot.kernel.clock = "CLOCK_REALTIME";
    d.snapshot.kernel.state_name = "TIME_OK";
    d.snapshot.kernel.status = {"STA_PLL"};
    d.snapshot.pps.signal = true;
    t = render_metrics(d);
    EXPECT_TRUE(has_line(t, "nanotime_server_received_packets_total 10"));
    EXPECT_TRUE(has_line(t, "nanotime_server_accepted_packets_total 5"));
    EXPECT_TRUE(has_line(t, "nanotime_server_ignored_packets_total 3"));
    EXPECT_TRUE(has_line(t, "nanotime_server_rate_limited_packets_total 2"));
    EXPECT_TRUE(has_line(t, "nanotime_server_interleaved_packets_total 3"));
    EXPECT_TRUE(has_line(t, "nanotime_server_tx_timestamps_total 2"));
    EXPECT_TRUE(has_line(t, "nanotime_server_request_latency_seconds_bucket{le=\"+Inf\"} 0"));
    EXPECT_TRUE(has_line(t, "nanotime_nts_ke_handshakes_total 4"));
    EXPECT_TRUE(has_line(t, "nanotime_nts_ke_failures_total{reason=\"tls_failed\"} 2"));
    EXPECT_TRUE(
        has_line(t, "nanotime_kernel_clock_info{clock=\"CLOCK_REALTIME\",state=\"TIME_OK\"} 1"));
    EXPECT_TRUE(has_line(t, "nanotime_kernel_status_flag{flag=\"STA_PLL\"} 1"));
    EXPECT_TRUE(has_line(t, "nanotime_pps_signal 1"));
}

}  // namespace
}  // namespace nanotime::metrics
