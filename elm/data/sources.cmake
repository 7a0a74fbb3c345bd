# Sources of the data readers (owned by elm/data/); included by elm/CMakeLists.txt.
target_sources(elmq_elm PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/detail/file_bytes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/idx_reader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/csv_reader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/datasets.cpp
)
# The source tree's .venv is one of the places load_dataset() looks for
# scikit-learn's data files (a search candidate only; a missing directory is skipped).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/datasets.cpp PROPERTIES
  COMPILE_DEFINITIONS "ELMQ_REPO_DIR=\"${PROJECT_SOURCE_DIR}\"")
