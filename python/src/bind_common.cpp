// Bindings of elm/common: file kinds and the thread-count helpers.
#include <pybind11/pybind11.h>

#include <string_view>

#include "elm/common/parallel.h"
#include "elm/common/serialize.h"
#include "python/src/bindings.h"

namespace py = pybind11;

namespace elmq::python {

void bind_common(py::module_& m) {
  py::enum_<FileKind>(m, "FileKind", "What an elmq file holds (values are part of the format).")
      .value("ELM", FileKind::kElm)
      .value("ONLINE_ELM", FileKind::kOnlineElm)
      .value("QUANTIZED_ELM", FileKind::kQuantizedElm)
      .value("MLP", FileKind::kMlp)
      .value("QUANTIZED_MLP", FileKind::kQuantizedMlp);

  m.def("file_kind_name", &file_kind_name, py::arg("kind"),
        "The file kind's name as the CLI prints it, e.g. 'elm'.");
  m.def(
      "peek_file_kind",
      [](const py::bytes& image) {
        const std::string_view view = image;
        return peek_file_kind(view);
      },
      py::arg("image"),
      "The kind of model an elmq file image holds (validates magic and checksum).\n\n"
      "Raises FormatError (a ValueError) if `image` is not a valid elmq file.");
  m.def("max_threads", &max_threads, "Number of threads the machine offers (at least 1).");
  m.def("resolve_threads", &resolve_threads, py::arg("requested"),
        "Maps a thread request to a count: 0 = all cores, n > 0 = min(n, 4 * max_threads()).\n\n"
        "Raises ValueError for a negative request.");
  m.attr("CONTAINER_VERSION") = kContainerVersion;
}

}  // namespace elmq::python
