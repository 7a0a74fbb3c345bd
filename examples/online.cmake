# The online ELM's example (owned with elm/online_elm.*); included by examples/CMakeLists.txt.
add_executable(elmq_streaming_classifier ${CMAKE_CURRENT_LIST_DIR}/streaming_classifier.cpp)
target_link_libraries(elmq_streaming_classifier PRIVATE elmq::elm)
elmq_executable_defaults(elmq_streaming_classifier)
