# The start-up marks and FLOPs bench/bench.py reads, and bench/fmapeak
# (tests/e2e/bench_marks.sh).
add_test(NAME e2e_bench_marks COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/bench_marks.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_bench_marks PROPERTIES LABELS e2e TIMEOUT 120)
