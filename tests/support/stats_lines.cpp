// tests/support/stats_lines.cpp — parsing "stats:" lines with std::regex.
#include "tests/support/stats_lines.hpp"

#include <csignal>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cs::test {
namespace {

// "worker 0: 3 open, 120 accepted" or "3 open, 120 accepted": the counts, keyed "worker 0 open".
void parse_part(const std::string& part, std::map<std::string, std::uint64_t>& counts) {
    static const std::regex named(R"(^\s*([^:]+):\s*(.*)$)");
    static const std::regex count(R"((\d+) ([^,]+?)\s*(,|$))");
    std::smatch match;
    std::string prefix, rest = part;
    if (std::regex_match(part, match, named)) {
        prefix = match[1].str() + " ";
        rest = match[2];
    }
    for (auto it = std::sregex_iterator(rest.begin(), rest.end(), count); it != std::sregex_iterator(); ++it) {
        counts[prefix + (*it)[2].str()] = std::stoull((*it)[1]);
    }
}

}  // namespace

std::uint64_t StatsLine::at(const std::string& name) const {
    auto found = counts.find(name);
    if (found == counts.end())
        throw std::out_of_range("no '" + name + "' in the stats line of pid " + std::to_string(pid));
    return found->second;
}

std::vector<StatsLine> parse_stats_lines(const std::string& text) {
    static const std::regex line_shape(R"(^\[[^ \]]+ (\d+)(:\d+)?\] stats: (.*)$)");
    std::vector<StatsLine> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::smatch match;
        if (!std::regex_match(line, match, line_shape)) continue;
        StatsLine stats{.pid = static_cast<pid_t>(std::stol(match[1]))};
        std::string body = match[3];
        for (std::size_t start = 0;;) {
            std::size_t end = body.find("; ", start);
            parse_part(body.substr(start, end - start), stats.counts);
            if (end == std::string::npos) break;
            start = end + 2;
        }
        lines.push_back(std::move(stats));
    }
    return lines;
}

std::vector<StatsLine> request_stats(const ServerProcess& server, int lines, std::chrono::milliseconds timeout) {
    std::size_t before = parse_stats_lines(server.stderr_text()).size();
    server.signal(SIGUSR1);
    std::vector<StatsLine> all;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while ((all = parse_stats_lines(server.stderr_text())).size() < before + lines &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the output with a deadline
    }
    return {all.begin() + static_cast<std::ptrdiff_t>(std::min(before, all.size())), all.end()};
}

}  // namespace cs::test
