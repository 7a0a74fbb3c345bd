# Sources of the MLP baseline and its quantized forms (owned by quant/mlp/);
# included by quant/CMakeLists.txt into the elmq_quant library.
target_sources(elmq_quant PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/mlp_params.cpp
  ${CMAKE_CURRENT_LIST_DIR}/optimizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mlp.cpp
  ${CMAKE_CURRENT_LIST_DIR}/calibration.cpp
  ${CMAKE_CURRENT_LIST_DIR}/awq.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quantized_mlp.cpp
  ${CMAKE_CURRENT_LIST_DIR}/qat.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/backprop.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/train_loop.cpp
)
