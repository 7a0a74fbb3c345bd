// The elmq._core extension module: registration and C++ -> Python exception
// translation.
#include <pybind11/pybind11.h>

#include "elm/common/errors.h"
#include "python/src/bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() =
      "elmq._core: thin pybind11 bindings of the elmq C++ library.\n\n"
      "Matrices are row-major float32 (C-contiguous numpy arrays, one sample per row) and\n"
      "labels int64. Array arguments are never converted silently: anything else raises\n"
      "TypeError (the pure-Python layer, e.g. elmq.ELMClassifier, converts once, explicitly).\n"
      "The GIL is released while C++ trains or predicts.";
  m.attr("__version__") = ELMQ_VERSION;

  // Error tiers of elm/common/errors.h. pybind11 tries translators in reverse
  // order of registration, so the catch-all for the library's types comes first
  // and the more specific ones after it.
  auto numerical =
      py::register_exception<elmq::NumericalError>(m, "NumericalError", PyExc_RuntimeError);
  numerical.doc() = "A numerical failure in elmq (e.g. a system that is not positive definite).";
  auto format = py::register_exception<elmq::FormatError>(m, "FormatError", PyExc_ValueError);
  format.doc() = "A corrupt, truncated or unsupported elmq file or byte image.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const elmq::FormatError&) {
      throw;  // handled by the FormatError translator
    } catch (const elmq::IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const elmq::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  elmq::python::bind_common(m);
  elmq::python::bind_elm(m);
  elmq::python::bind_online(m);
  elmq::python::bind_quant(m);
  elmq::python::bind_data(m);
  elmq::python::bind_debug(m);
}
