// A thin C face on toml++ (Debian's libtomlplusplus): TOML in, JSON out, so Swift reads
// manifests with the JSON parser it already has.
#include "CTOML.h"

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <toml++/toml.h>

static char *copy_string(const std::string &text) {
    char *copy = static_cast<char *>(std::malloc(text.size() + 1));
    if (copy != nullptr) std::memcpy(copy, text.c_str(), text.size() + 1);
    return copy;
}

extern "C" char *tributary_toml_to_json(const char *text, char **error) {
    try {
        toml::table table = toml::parse(std::string_view(text));
        std::ostringstream out;
        out << toml::json_formatter{table};
        return copy_string(out.str());
    } catch (const toml::parse_error &failure) {
        std::ostringstream message;
        message << failure.description() << " (line " << failure.source().begin.line << ", column "
                << failure.source().begin.column << ")";
        *error = copy_string(message.str());
        return nullptr;
    }
}
