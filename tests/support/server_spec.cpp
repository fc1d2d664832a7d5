// tests/support/server_spec.cpp — environment overrides for graders and students.
#include "tests/support/server_spec.hpp"

#include <cstdlib>
#include <sstream>

namespace cs::test {

ServerSpec resolved(const ServerSpec& spec) {
    ServerSpec result = spec;
    if (const char* binary = std::getenv("ECHO_SERVER"); binary && *binary) result.binary = binary;
    if (const char* args = std::getenv("ECHO_SERVER_ARGS"); args && *args) {
        std::istringstream words(args);
        for (std::string word; words >> word;) result.args.push_back(word);
    }
    return result;
}

ServerProcess start_server(const ServerSpec& spec, std::vector<std::string> extra_args,
                           std::optional<rlim_t> nofile_limit) {
    ServerSpec actual = resolved(spec);
    Launch launch{.binary = actual.binary, .args = actual.args, .nofile_limit = nofile_limit};
    launch.args.insert(launch.args.end(), extra_args.begin(), extra_args.end());
    return ServerProcess::start(launch);
}

}  // namespace cs::test
