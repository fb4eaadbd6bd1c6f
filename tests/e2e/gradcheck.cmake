# nnc gradcheck: f64 by default, kinks reported, f32 checkpoints widened (tests/e2e/gradcheck.sh).
add_test(NAME e2e_gradcheck_f64
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/gradcheck.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_gradcheck_f64 PROPERTIES LABELS e2e TIMEOUT 120)
