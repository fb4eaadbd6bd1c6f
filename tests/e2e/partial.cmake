# Partial checkpoint loading: train --init-from FILE --only GLOB --rename FROM=TO
# (tests/e2e/partial.sh).
add_test(NAME e2e_partial COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/partial.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_partial PROPERTIES LABELS e2e TIMEOUT 300)
