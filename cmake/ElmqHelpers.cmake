# Target-level settings shared by every elmq target; nothing here touches
# global flags.

# elmq_options: an interface target carrying what must be identical in every
# translation unit that shares Eigen types with elmq (instruction set, Eigen's
# threading switch), so it is PUBLIC on the libraries and reaches consumers.
add_library(elmq_options INTERFACE)
add_library(elmq::options ALIAS elmq_options)
target_compile_features(elmq_options INTERFACE cxx_std_17)
# elmq splits work itself (elm/common/parallel.h); Eigen must not start threads.
target_compile_definitions(elmq_options INTERFACE EIGEN_DONT_PARALLELIZE)
if(ELMQ_NATIVE)
  target_compile_options(elmq_options INTERFACE -march=native)
endif()
if(ELMQ_BUILD_FUZZERS)
  # Coverage for libFuzzer and the sanitizers in every elmq translation unit
  # (tests/fuzz links the fuzzer runtime itself).
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ELMQ_BUILD_FUZZERS needs clang (e.g. CXX=clang++-14)")
  endif()
  set(_elmq_san -fsanitize=address,undefined -fno-sanitize-recover=undefined)
  target_compile_options(elmq_options INTERFACE -fsanitize=fuzzer-no-link ${_elmq_san} -g)
  target_link_options(elmq_options INTERFACE ${_elmq_san})
endif()
if(ELMQ_USE_BLAS)
  target_compile_definitions(elmq_options INTERFACE EIGEN_USE_BLAS ELMQ_USE_BLAS=1)
endif()

# Warnings and the assertion switch for elmq's own targets (not consumers).
function(elmq_target_defaults target)
  target_link_libraries(${target} PUBLIC elmq_options)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(ELMQ_ASSERTIONS)
    target_compile_options(${target} PRIVATE -UNDEBUG)
  endif()
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)
endfunction()

# For executables (tests, benchmarks, examples, CLI).
function(elmq_executable_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(ELMQ_ASSERTIONS)
    target_compile_options(${target} PRIVATE -UNDEBUG)
  endif()
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
endfunction()

# elmq_add_gtest(<target> SOURCES a.cpp b.cpp LIBS elmq::elm ...)
# One GoogleTest executable, registered with CTest test by test.
# Test time limits, in seconds times ELMQ_TEST_TIMEOUT_SCALE (a sanitizer
# build runs several times slower: scripts/sanitize.sh sets 10).
set(ELMQ_TEST_TIMEOUT_SCALE 1 CACHE STRING "Factor applied to every test's time limit")
function(elmq_test_timeout seconds)
  math(EXPR t "${seconds} * ${ELMQ_TEST_TIMEOUT_SCALE}")
  set_tests_properties(${ARGN} PROPERTIES TIMEOUT ${t})
endfunction()

function(elmq_add_gtest target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${target} PRIVATE ELMQ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  elmq_executable_defaults(${target})
  include(GoogleTest)
  math(EXPR timeout "600 * ${ELMQ_TEST_TIMEOUT_SCALE}")
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT ${timeout})
endfunction()
