# Failure behaviour: numerics checks, NaN stop, thread-count determinism,
# SIGKILL during save (tests/e2e/hardening.sh).
foreach(mode numerics nan-ckpt threads kill-save)
  add_test(NAME e2e_hardening_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/hardening.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_hardening_${mode} PROPERTIES LABELS e2e TIMEOUT 300)
endforeach()
