# Gradient-norm clipping against an explicit computation and against its C reference (tests/e2e/clip.sh).
add_test(NAME e2e_clip_norm
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/clip.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_clip_norm PROPERTIES LABELS e2e TIMEOUT 300)
