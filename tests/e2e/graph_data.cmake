# graph("edges.csv") data: good and bad edge lists (tests/e2e/graph_data.sh),
# and the lecture 10 karate club GCN reaches its README's accuracy (examples.sh karate).
add_test(NAME e2e_graph_data COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/graph_data.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_graph_data PROPERTIES LABELS e2e TIMEOUT 60)
add_test(NAME e2e_examples_karate COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/examples.sh $<TARGET_FILE:nnc> karate
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_examples_karate PROPERTIES LABELS e2e TIMEOUT 120)
add_test(NAME e2e_examples_sbm COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/examples.sh $<TARGET_FILE:nnc> sbm
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_examples_sbm PROPERTIES LABELS e2e TIMEOUT 120)
