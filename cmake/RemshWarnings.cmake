# remsh_warnings(target): the project's warning set, errors in CI (REMSH_WERROR=ON).
function(remsh_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                         -Wno-sign-conversion
                         -Wno-missing-field-initializers)  # designated initializers omit fields on purpose
  if(REMSH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
