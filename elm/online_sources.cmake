# Sources of the online sequential ELM (owned with elm/online_elm.*); included by elm/CMakeLists.txt.
target_sources(elmq_elm PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/online_elm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/packed_sym.cpp)
