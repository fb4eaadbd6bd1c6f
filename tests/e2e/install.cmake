# scripts/check-install fails, naming the file, on a header no Debian package owns (tests/e2e/install.sh).
add_test(NAME e2e_install_check
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/install.sh ${PROJECT_BINARY_DIR}
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_install_check PROPERTIES LABELS e2e TIMEOUT 300 DEPENDS e2e_pipeline_xor)
