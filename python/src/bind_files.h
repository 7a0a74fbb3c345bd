// Private header of the elmq._core extension: the file methods shared by the
// bound model classes whose C++ type has to_bytes() / from_bytes() / save() /
// load() (OnlineElm, QuantizedElm, Mlp, QuantizedMlp; ElmModel's to_bytes
// takes an option and is bound in bind_elm.cpp). Pickling uses the same file
// image as save, so a pickle and a file are one format.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <string_view>

namespace elmq::python {

/// Adds to_bytes, from_bytes, save, load and pickling to `cls`; `kind` is the
/// file kind named in the docstring (e.g. "quantized-elm").
template <class Cls>
void bind_files(Cls& cls, const char* kind) {
  namespace py = pybind11;
  using M = typename Cls::type;
  cls.def(
         "to_bytes",
         [](const M& self) {
           std::string image;
           {
             py::gil_scoped_release release;
             image = self.to_bytes();
           }
           return py::bytes(image);
         },
         (std::string("The model as an elmq file image (kind '") + kind + "').").c_str())
      .def_static(
          "from_bytes",
          [](const py::bytes& image) {
            const auto view = static_cast<std::string_view>(image);
            py::gil_scoped_release release;
            return M::from_bytes(view);
          },
          py::arg("image"), "Reads a file image; raises FormatError (a ValueError) if invalid.")
      .def("save", &M::save, py::arg("path"), py::call_guard<py::gil_scoped_release>(),
           "Writes the model file; raises OSError if it cannot.")
      .def_static("load", &M::load, py::arg("path"), py::call_guard<py::gil_scoped_release>(),
                  "Reads a model file; OSError if unreadable, FormatError if invalid.")
      .def(py::pickle(
          [](const M& self) { return py::bytes(self.to_bytes()); },
          [](const py::bytes& image) { return M::from_bytes(static_cast<std::string_view>(image)); }));
}

}  // namespace elmq::python
