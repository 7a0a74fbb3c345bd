// Private header of the elmq._core extension: one registration function per
// bound C++ module (python/src/bind_<module>.cpp), called from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace elmq::python {

/// elm/common: file kinds, threads, version constants.
void bind_common(pybind11::module_& m);
/// elm/: ElmConfig and its parts, ElmModel.
void bind_elm(pybind11::module_& m);
/// elm/online_elm.h: the online sequential ELM.
void bind_online(pybind11::module_& m);
/// quant/: quantized ELMs, the MLP and the quantized MLP.
void bind_quant(pybind11::module_& m);
/// elm/data: the dataset registry.
void bind_data(pybind11::module_& m);
/// Test and measurement hooks (names start with an underscore).
void bind_debug(pybind11::module_& m);

}  // namespace elmq::python
