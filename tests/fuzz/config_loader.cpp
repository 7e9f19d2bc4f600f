// Fuzz target: the configuration loader (TOML via toml11, then every section's checks), as
// an operator's file or a SIGHUP reload presents it. Invariants: no crash or uncaught
// exception; a refusal carries at least one error with a location and a message.
#include "boshgate/config/config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace boshgate;
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto res = config::load_string(text, "fuzz.toml");
    if (auto* errs = std::get_if<std::vector<config::load_error>>(&res)) {
        if (errs->empty()) {
            std::abort();
        }
        for (const auto& e : *errs) {
            if (e.message.empty()) {
                std::abort();
            }
        }
    }
    return 0;
}
