// bench/load/report.cpp — formatting: thousands separators for people, plain numbers for JSON.
#include "bench/load/report.hpp"

#include <cmath>
#include <fmt/format.h>

namespace cs::bench {
namespace {

// 1234567.8 -> "1,234,568": rates and counts are read across a row; separators help.
std::string grouped(double value) {
    std::string digits = fmt::format("{:.0f}", std::abs(value));
    std::string out = value < 0 ? "-" : "";
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

double per_request_us(double seconds, double requests) { return requests <= 0 ? 0.0 : seconds * 1e6 / requests; }

double per_request(long long count, double requests) {
    return requests <= 0 || count < 0 ? std::nan("") : static_cast<double>(count) / requests;
}

double per_connection_kib(long after, long before, int connections) {
    return connections <= 0 ? 0.0 : static_cast<double>(after - before) / connections;
}

// Held connections are what memory is divided by: the idle ones and the active ones.
int held_connections(const LoadOptions& options) {
    if (options.mode == Mode::kIdle) return options.conns + options.active;
    if (options.mode == Mode::kChurn) return 0;  // nothing is held: no per-connection memory
    return options.conns;
}

std::string json_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<int>(c));
            continue;
        }
        out += c;
    }
    return out;
}

// JSON numbers: finite, or null.
std::string num(double value) { return std::isfinite(value) ? fmt::format("{:.6g}", value) : "null"; }

}  // namespace

const char* mode_name(Mode mode) {
    switch (mode) {
        case Mode::kPingPong: return "pingpong";
        case Mode::kRate: return "rate";
        case Mode::kChurn: return "churn";
        case Mode::kIdle: return "idle";
    }
    return "?";
}

double RunReport::requests_in(double interval_s) const {
    return interval_s > 0 ? requests_per_s() * interval_s : static_cast<double>(totals.requests);
}

double RunReport::requests_per_s() const {
    return window_s > 0 ? static_cast<double>(totals.requests) / window_s : 0.0;
}

std::string format_table(const RunReport& r) {
    const LoadOptions& o = *r.options;
    const Tally& t = r.totals;
    std::string out = fmt::format("echo-load {} -> {}:{}  {} connections", mode_name(o.mode), o.host, o.port, o.conns);
    if (o.mode == Mode::kPingPong) out += fmt::format(" x depth {}", o.depth);
    if (o.mode == Mode::kRate) out += fmt::format(" at {} req/s planned", grouped(o.rate));
    if (o.mode == Mode::kIdle) out += fmt::format(" held + {} active (depth {})", o.active, o.depth);
    if (o.mode == Mode::kChurn)
        out += fmt::format(" at once, {}", o.count > 0 ? grouped(static_cast<double>(o.count)) + " measured" : "timed");
    out += fmt::format(", {} B messages, {} thread{}\n", o.size, o.threads, o.threads == 1 ? "" : "s");
    out += fmt::format("  window       {:.2f} s after {:.2f} s warm-up\n", r.window_s, o.warmup_s);
    out += fmt::format("  requests     {} sent, {} echoed, {} timed out, {} lost\n",
                       grouped(static_cast<double>(t.sent)), grouped(static_cast<double>(t.echoed)),
                       grouped(static_cast<double>(t.timed_out)), grouped(static_cast<double>(t.lost)));
    out += fmt::format("  errors       {} (connect timeouts {}){}\n", t.errors, t.connect_timeouts,
                       t.first_error.empty() ? "" : "; first: " + t.first_error);
    if (!r.valid()) {
        out += "  INVALID: the echo was wrong or cut short, so this run reports no numbers\n";
        return out;
    }
    double rps = r.requests_per_s();
    out += fmt::format("  throughput   {} {}/s, {:.2f} MB/s echoed ({} in the window)\n", grouped(rps),
                       o.mode == Mode::kChurn ? "connections" : "requests", rps * static_cast<double>(o.size) / 1e6,
                       grouped(static_cast<double>(t.requests)));
    const Histogram& h = t.latency;
    out += fmt::format("  latency us   p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}\n",
                       us(h.percentile(50)), us(h.percentile(90)), us(h.percentile(99)), us(h.percentile(99.9)),
                       us(h.max()));
    if (t.censored > 0) {
        out += fmt::format(
            "               ({} of these requests were still waiting when the window closed: "
            "counted at their age then)\n",
            grouped(static_cast<double>(t.censored)));
    }
    if (o.mode == Mode::kRate) {
        const Histogram& lag = t.send_lag;
        out += fmt::format(
            "  send lag us  p50 {:.1f}  p99 {:.1f}  max {:.1f}  (plan to send: the generator's part of it)\n",
            us(lag.percentile(50)), us(lag.percentile(99)), us(lag.max()));
    }
    if (o.mode != Mode::kChurn) {
        int clients = o.mode == Mode::kIdle ? o.active : o.conns;
        out += fmt::format("  served       {} of {} connections got echoes inside the window\n", t.served, clients);
    }
    if (r.server_sampled) {
        CpuUse cpu = cpu_between(r.server_start, r.server_end);
        const double server_reqs = r.requests_in(r.server_end.taken_s - r.server_start.taken_s);
        const char* unit = o.mode == Mode::kChurn ? "connection" : "request";
        std::string split = cpu.split_known
                                ? fmt::format(" (user {:.2f}, system {:.2f})", per_request_us(cpu.user_s, server_reqs),
                                              per_request_us(cpu.system_s, server_reqs))
                                : "";
        out += fmt::format("  server CPU   {:.2f} us per {}{}; {:.0f} % of a core ({} process{})\n",
                           per_request_us(cpu.total_s, server_reqs), unit, split,
                           r.window_s > 0 ? cpu.total_s / r.window_s * 100 : 0.0, r.server_start.processes,
                           r.server_start.processes == 1 ? "" : "es");
        out +=
            fmt::format("  server mem   RSS {} KiB, PSS {} KiB", grouped(static_cast<double>(r.server_start.rss_kib)),
                        grouped(static_cast<double>(r.server_start.pss_kib)));
        if (int held = held_connections(o); held > 0) {
            out += fmt::format(" ({:.1f} KiB RSS, {:.1f} KiB PSS per connection)",
                               per_connection_kib(r.server_start.rss_kib, r.server_before.rss_kib, held),
                               per_connection_kib(r.server_start.pss_kib, r.server_before.pss_kib, held));
        }
        out += fmt::format("; {} zombies after the run\n", r.zombies_after);
        out += fmt::format("  syscalls     {:.2f} read/write-class per {} (/proc/PID/io)",
                           per_request(r.server_end.rw_syscalls - r.server_start.rw_syscalls, server_reqs), unit);
        if (r.server_syscalls >= 0) {
            out += fmt::format(", {:.2f} in all (raw_syscalls tracepoint)",
                               per_request(r.server_syscalls, r.requests_in(r.syscalls_interval_s)));
        }
        out += "\n";
    }
    double generator_pct = r.window_s > 0 ? r.generator_cpu_s / r.window_s * 100 : 0.0;
    out += fmt::format(
        "  generator    CPU {:.0f} % of a core, {:.2f} us per {}, {} thread{}{}\n", generator_pct,
        per_request_us(r.generator_cpu_s, r.requests_in(r.generator_interval_s)),
        o.mode == Mode::kChurn ? "connection" : "request", o.threads, o.threads == 1 ? "" : "s",
        generator_pct > 90.0 * o.threads ? " -- saturated: the generator may be the limit, not the server" : "");
    return out;
}

std::string format_json(const RunReport& r) {
    const LoadOptions& o = *r.options;
    const Tally& t = r.totals;
    const Histogram& h = t.latency;
    const double nan = std::nan("");
    const bool ok = r.valid();
    auto measured = [&](double value) { return num(ok ? value : nan); };
    double rps = r.requests_per_s();
    std::string out = "{";
    out += fmt::format("\"tool\":\"echo-load\",\"mode\":\"{}\",\"host\":\"{}\",\"port\":{},", mode_name(o.mode),
                       json_escape(o.host), o.port);
    out += fmt::format(
        "\"conns\":{},\"depth\":{},\"size\":{},\"threads\":{},\"active\":{},\"count\":{},\"rate_planned\":{},", o.conns,
        o.depth, o.size, o.threads, o.active, o.count, num(o.rate));
    out += fmt::format("\"warmup_s\":{},\"window_s\":{},\"valid\":{},", num(o.warmup_s), num(r.window_s),
                       ok ? "true" : "false");
    out += fmt::format("\"sent\":{},\"echoed\":{},\"timed_out\":{},\"lost\":{},\"errors\":{},\"connect_timeouts\":{},",
                       t.sent, t.echoed, t.timed_out, t.lost, t.errors, t.connect_timeouts);
    out += fmt::format("\"requests\":{},\"censored\":{},\"served\":{},\"connections\":{},\"latency_count\":{},",
                       t.requests, t.censored, t.served, t.connections, h.count());
    out += fmt::format("\"rps\":{},\"mbps\":{},", measured(rps), measured(rps * static_cast<double>(o.size) / 1e6));
    out += fmt::format("\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"mean_us\":{},",
                       measured(us(h.percentile(50))), measured(us(h.percentile(90))), measured(us(h.percentile(99))),
                       measured(us(h.percentile(99.9))), measured(us(h.max())), measured(h.mean() / 1000.0));
    if (o.mode == Mode::kRate) {
        out += fmt::format("\"send_lag_p50_us\":{},\"send_lag_p99_us\":{},", num(us(t.send_lag.percentile(50))),
                           num(us(t.send_lag.percentile(99))));
    }
    if (r.server_sampled) {
        CpuUse cpu = cpu_between(r.server_start, r.server_end);
        const double server_reqs = r.requests_in(r.server_end.taken_s - r.server_start.taken_s);
        double user = cpu.split_known ? cpu.user_s : nan;
        double system = cpu.split_known ? cpu.system_s : nan;
        int held = held_connections(o);
        out += fmt::format(
            "\"server_cpu_s\":{},\"server_user_s\":{},\"server_system_s\":{},\"server_user_us_per_req\":{},"
            "\"server_system_us_per_req\":{},\"server_cpu_us_per_req\":{},\"server_cpu_pct\":{},",
            num(cpu.total_s), num(user), num(system), measured(per_request_us(user, server_reqs)),
            measured(per_request_us(system, server_reqs)), measured(per_request_us(cpu.total_s, server_reqs)),
            num(r.window_s > 0 ? cpu.total_s / r.window_s * 100 : nan));
        out += fmt::format(
            "\"server_processes\":{},\"server_rss_kib\":{},\"server_pss_kib\":{},\"server_rss_kib_before\":{},"
            "\"server_pss_kib_before\":{},\"server_rss_per_conn_kib\":{},\"server_pss_per_conn_kib\":{},"
            "\"server_zombies\":{},\"server_alive\":{},",
            r.server_start.processes, r.server_start.rss_kib, r.server_start.pss_kib, r.server_before.rss_kib,
            r.server_before.pss_kib,
            num(held > 0 ? per_connection_kib(r.server_start.rss_kib, r.server_before.rss_kib, held) : nan),
            num(held > 0 ? per_connection_kib(r.server_start.pss_kib, r.server_before.pss_kib, held) : nan),
            r.zombies_after, r.server_end.alive ? "true" : "false");
        out += fmt::format("\"server_rw_syscalls_per_req\":{},\"server_syscalls_per_req\":{},",
                           measured(per_request(r.server_end.rw_syscalls - r.server_start.rw_syscalls, server_reqs)),
                           measured(per_request(r.server_syscalls, r.requests_in(r.syscalls_interval_s))));
    }
    out += fmt::format("\"generator_cpu_s\":{},\"generator_cpu_pct\":{},\"generator_cpu_us_per_req\":{},",
                       num(r.generator_cpu_s), num(r.window_s > 0 ? r.generator_cpu_s / r.window_s * 100 : nan),
                       measured(per_request_us(r.generator_cpu_s, r.requests_in(r.generator_interval_s))));
    const bool lean = o.mode == Mode::kPingPong && o.engine == Engine::kEpoll;
    out += fmt::format("\"engine\":\"{}\",", lean ? "epoll" : "asio");
    out += fmt::format("\"first_error\":\"{}\"}}", json_escape(t.first_error));
    return out;
}

}  // namespace cs::bench
