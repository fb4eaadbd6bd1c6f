# Tests of the data loaders and checkpoints (runtime/data/*.c, runtime/ckpt.c).
# CMakeLists.txt's test_*.c glob normally defines test_data and test_ckpt;
# this file defines them only if it did not, and adds the Python cross-check
# of the safetensors byte format (struct + json; uses torch when present).
foreach(t test_data test_ckpt)
  if(NOT TARGET ${t})
    add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c)
    target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/../../runtime)
    target_link_libraries(${t} PRIVATE nnrt PkgConfig::CMOCKA ZLIB::ZLIB m)
    add_test(NAME ${t} COMMAND ${t})
    set_tests_properties(${t} PROPERTIES LABELS unit)
  endif()
endforeach()

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME safetensors_python
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/safetensors_check.py
                   $<TARGET_FILE:test_ckpt>)
  set_tests_properties(safetensors_python PROPERTIES LABELS unit)
endif()
