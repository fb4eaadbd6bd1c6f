# roi_align, roi_pool and box_iou against torchvision (tests/e2e/torch_detect.sh).
add_test(NAME e2e_torch_detect COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_detect.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_detect PROPERTIES LABELS e2e TIMEOUT 120)
# stdlib/detect.nn's box coder, smooth-L1 and anchors against torchvision (tests/e2e/torch_boxcoder.sh).
add_test(NAME e2e_torch_boxcoder COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_boxcoder.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_boxcoder PROPERTIES LABELS e2e TIMEOUT 120)
