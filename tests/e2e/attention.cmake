# stdlib/attention.nn: causality, BERT embeddings, dropout layer (tests/e2e/attention.sh).
add_test(NAME e2e_attention COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/attention.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_attention PROPERTIES LABELS e2e TIMEOUT 120)
