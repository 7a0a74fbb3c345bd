# Quantized ELMs (issue 6): GPTQ, the quantized model and the quantizer.
# Included by quant/CMakeLists.txt into the elmq_quant library.
target_sources(elmq_quant PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gptq.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quantized_elm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quantize_elm.cpp
)
