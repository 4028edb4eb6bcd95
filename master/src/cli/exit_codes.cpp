#include "exit_codes.hpp"

namespace remsh::cli {

int exit_code_for_error_tag(std::string_view tag) {
    return tag == "exec-failed" ? exit_exec_failed : exit_error;
}

}  // namespace remsh::cli
