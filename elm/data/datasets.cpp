#include "elm/data/datasets.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <system_error>

#include "elm/common/errors.h"
#include "elm/common/rng.h"
#include "elm/data/csv_reader.h"
#include "elm/data/detail/file_bytes.h"
#include "elm/data/idx_reader.h"

namespace elmq {

namespace fs = std::filesystem;

namespace {

enum class Kind { kFashionMnist, kSklearnCsv };

struct DatasetInfo {
  const char* name;
  Kind kind;
  const char* file;  // sklearn file name
  bool has_header;   // sklearn "n_samples,n_features,classnames..." first line
  Index rows, features, classes;
};

// Shapes are checked after reading so that a wrong or damaged file fails loudly.
constexpr DatasetInfo kDatasets[] = {
    {"fashion-mnist", Kind::kFashionMnist, nullptr, false, 70000, 784, 10},
    {"iris", Kind::kSklearnCsv, "iris.csv", true, 150, 4, 3},
    {"wine", Kind::kSklearnCsv, "wine_data.csv", true, 178, 13, 3},
    {"breast_cancer", Kind::kSklearnCsv, "breast_cancer.csv", true, 569, 30, 2},
    {"digits", Kind::kSklearnCsv, "digits.csv.gz", false, 1797, 64, 10},
};

const char* const kFashionClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// <prefix>/lib/python3*/{site,dist}-packages/sklearn/datasets/data, newest name first.
void add_python_prefix(const fs::path& prefix, std::vector<fs::path>& out) {
  const fs::path lib = prefix / "lib";
  if (!is_dir(lib)) return;
  std::vector<fs::path> pythons;
  std::error_code ec;
  for (fs::directory_iterator it(lib, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.rfind("python3", 0) == 0) pythons.push_back(it->path());
  }
  std::sort(pythons.begin(), pythons.end(), std::greater<>());
  for (const auto& py : pythons) {
    for (const char* pk : {"site-packages", "dist-packages"}) {
      out.push_back(py / pk / "sklearn" / "datasets" / "data");
    }
  }
}

std::vector<fs::path> sklearn_candidates(const std::string& data_dir) {
  std::vector<fs::path> c;
  if (!data_dir.empty()) {
    c.emplace_back(data_dir);
    return c;
  }
  if (!env("ELMQ_SKLEARN_DATA").empty()) c.emplace_back(env("ELMQ_SKLEARN_DATA"));
  if (!env("VIRTUAL_ENV").empty()) add_python_prefix(env("VIRTUAL_ENV"), c);
#ifdef ELMQ_REPO_DIR
  add_python_prefix(fs::path(ELMQ_REPO_DIR) / ".venv", c);
#endif
  std::error_code ec;
  fs::path dir = fs::current_path(ec);
  if (!ec) {
    for (int depth = 0; depth < 64 && !dir.empty(); ++depth) {
      if (is_dir(dir / ".venv")) add_python_prefix(dir / ".venv", c);
      const fs::path parent = dir.parent_path();
      if (parent == dir) break;
      dir = parent;
    }
  }
  add_python_prefix("/usr/local", c);
  c.emplace_back("/usr/lib/python3/dist-packages/sklearn/datasets/data");
  add_python_prefix("/usr", c);
  if (!env("HOME").empty()) add_python_prefix(fs::path(env("HOME")) / ".local", c);
  // pyenv interpreters (python3 on the PATH may be one of them).
  fs::path pyenv = env("PYENV_ROOT");
  if (pyenv.empty() && !env("HOME").empty()) pyenv = fs::path(env("HOME")) / ".pyenv";
  if (!pyenv.empty() && is_dir(pyenv / "versions")) {
    std::vector<fs::path> versions;
    for (fs::directory_iterator it(pyenv / "versions", ec), end; !ec && it != end;
         it.increment(ec)) {
      versions.push_back(it->path());
    }
    std::sort(versions.begin(), versions.end(), std::greater<>());
    for (const auto& v : versions) add_python_prefix(v, c);
  }
  // Drop duplicates (e.g. VIRTUAL_ENV == the repo's .venv), keeping the first.
  std::vector<fs::path> unique;
  for (auto& p : c) {
    const fs::path norm = p.lexically_normal();
    if (std::find(unique.begin(), unique.end(), norm) == unique.end()) unique.push_back(norm);
  }
  return unique;
}

std::string join_paths(const std::vector<fs::path>& ps) {
  std::string s;
  for (std::size_t i = 0; i < ps.size(); ++i) s += (i ? ", " : "") + ps[i].string();
  return s;
}

// Copies the listed rows of x / y.
void gather(const RowMatrixXf& x, const LabelVector& y, const std::vector<Index>& idx,
            Index max_rows, RowMatrixXf& xo, LabelVector& yo) {
  const Index n = max_rows < 0 ? static_cast<Index>(idx.size())
                               : std::min<Index>(max_rows, static_cast<Index>(idx.size()));
  xo.resize(n, x.cols());
  yo.resize(n);
  for (Index i = 0; i < n; ++i) {
    xo.row(i) = x.row(idx[static_cast<std::size_t>(i)]);
    yo[i] = y[idx[static_cast<std::size_t>(i)]];
  }
}

void check_labels(const LabelVector& y, Index classes, const std::string& where) {
  for (Index i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || y[i] >= classes) {
      throw FormatError(
          str_cat(where, ": label ", y[i], " of row ", i, " is outside 0..", classes - 1));
    }
  }
}

DatasetSplit load_fashion_mnist(const DatasetInfo& info, const DatasetOptions& opt) {
  std::vector<fs::path> dirs;
  if (!opt.data_dir.empty()) {
    dirs.emplace_back(opt.data_dir);
  } else {
    if (!env("ELMQ_FASHION_MNIST_DIR").empty()) dirs.emplace_back(env("ELMQ_FASHION_MNIST_DIR"));
    dirs.emplace_back("/usr/share/datasets/fashion-mnist");
  }
  const char* const stems[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  fs::path files[4];
  for (const auto& d : dirs) {
    bool all = true;
    for (int k = 0; k < 4 && all; ++k) {
      const fs::path gz = d / (std::string(stems[k]) + ".gz");
      const fs::path raw = d / stems[k];
      if (is_file(gz)) {
        files[k] = gz;
      } else if (is_file(raw)) {
        files[k] = raw;
      } else {
        all = false;
      }
    }
    if (all) break;
    for (auto& f : files) f.clear();
  }
  if (files[0].empty()) {
    throw IoError(
        str_cat("load_dataset: fashion-mnist not found (the 4 files ",
                "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], ",
                "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in: ", join_paths(dirs),
                "; install it with 'apt-get install dataset-fashion-mnist' or set "
                "ELMQ_FASHION_MNIST_DIR"));
  }
  DatasetSplit s;
  s.name = info.name;
  for (const char* c : kFashionClasses) s.class_names.emplace_back(c);
  s.source = files[0].string() + "; " + files[1].string() + "; " + files[2].string() + "; " +
             files[3].string();

  auto load_pair = [&](const fs::path& img_path, const fs::path& lab_path, Index max_rows,
                       RowMatrixXf& x, LabelVector& y) {
    const IdxData img = read_idx(img_path.string());
    const IdxData lab = read_idx(lab_path.string());
    const std::string where = "load_dataset: fashion-mnist";
    if (img.dims.size() != 3 || img.dims[1] * img.dims[2] != info.features) {
      throw FormatError(str_cat(where, ": '", img_path.string(), "' does not hold 28x28 images"));
    }
    if (lab.dims.size() != 1 || lab.dims[0] != img.dims[0]) {
      throw FormatError(str_cat(where, ": '", lab_path.string(), "' holds ",
                                lab.dims.empty() ? 0 : lab.dims[0], " labels for ", img.dims[0],
                                " images in '", img_path.string(), "'"));
    }
    x = idx_images(img, max_rows);
    y = idx_labels(lab, max_rows);
    check_labels(y, info.classes, where + " '" + lab_path.string() + "'");
  };
  load_pair(files[0], files[1], opt.max_train_rows, s.x_train, s.y_train);
  load_pair(files[2], files[3], opt.max_test_rows, s.x_test, s.y_test);
  return s;
}

DatasetSplit load_sklearn_csv(const DatasetInfo& info, const DatasetOptions& opt) {
  const std::vector<fs::path> dirs = sklearn_candidates(opt.data_dir);
  fs::path file;
  for (const auto& d : dirs) {
    if (is_file(d / info.file)) {
      file = d / info.file;
      break;
    }
  }
  if (file.empty()) {
    throw IoError(str_cat("load_dataset: ", info.name, ": ", info.file,
                          " not found in: ", join_paths(dirs),
                          "; pip install scikit-learn into .venv (python3 -m venv .venv && "
                          ".venv/bin/pip install scikit-learn), or set ELMQ_SKLEARN_DATA to its "
                          "sklearn/datasets/data directory"));
  }
  const std::string path = file.string();
  const std::string text = detail::read_data_file(path, "load_dataset");
  const std::string where = str_cat("load_dataset: ", info.name, ": '", path, "'");

  DatasetSplit s;
  s.name = info.name;
  s.source = path;
  CsvOptions co;
  co.header = info.has_header ? CsvOptions::Header::kSkipFirstLine : CsvOptions::Header::kNone;
  const CsvData d = parse_csv(text, path, co);
  if (d.x.rows() != info.rows || d.x.cols() != info.features) {
    throw FormatError(str_cat(where, " has ", d.x.rows(), " rows and ", d.x.cols(),
                              " features, expected ", info.rows, " and ", info.features));
  }
  if (info.has_header) {
    // First line: n_samples,n_features,class names...
    const std::string first = text.substr(0, text.find('\n'));
    std::vector<std::string> f;
    std::size_t pos = 0;
    for (;;) {
      const std::size_t comma = first.find(',', pos);
      std::string cell =
          first.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
      f.push_back(cell);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (f.size() < 2 || f[0] != std::to_string(info.rows) ||
        f[1] != std::to_string(info.features)) {
      throw FormatError(str_cat(where, ": first line '", first.substr(0, 80),
                                "' should start with ", info.rows, ",", info.features));
    }
    s.class_names.assign(f.begin() + 2, f.end());
  } else {
    for (Index c = 0; c < info.classes; ++c) s.class_names.push_back(std::to_string(c));
  }
  if (static_cast<Index>(s.class_names.size()) != info.classes) {
    throw FormatError(
        str_cat(where, " names ", s.class_names.size(), " classes, expected ", info.classes));
  }
  const LabelVector y = labels_from_column(d.y_raw, where.c_str());
  check_labels(y, info.classes, where);

  const SplitIndices split = stratified_split(y, opt.test_fraction, opt.seed);
  gather(d.x, y, split.train, opt.max_train_rows, s.x_train, s.y_train);
  gather(d.x, y, split.test, opt.max_test_rows, s.x_test, s.y_test);
  return s;
}

}  // namespace

void DatasetOptions::validate() const {
  ELMQ_CHECK_ARG(test_fraction >= 0.0 && test_fraction <= 0.9,
                 "DatasetOptions: test_fraction must be in [0, 0.9], got ", test_fraction);
  ELMQ_CHECK_ARG(max_train_rows == -1 || max_train_rows >= 1,
                 "DatasetOptions: max_train_rows must be -1 (all) or >= 1, got ", max_train_rows);
  ELMQ_CHECK_ARG(max_test_rows == -1 || max_test_rows >= 1,
                 "DatasetOptions: max_test_rows must be -1 (all) or >= 1, got ", max_test_rows);
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& d : kDatasets) names.emplace_back(d.name);
  return names;
}

DatasetSplit load_dataset(const std::string& name, const DatasetOptions& options) {
  options.validate();
  for (const auto& info : kDatasets) {
    if (name != info.name) continue;
    return info.kind == Kind::kFashionMnist ? load_fashion_mnist(info, options)
                                            : load_sklearn_csv(info, options);
  }
  std::string known;
  for (const auto& d : kDatasets) known += std::string(known.empty() ? "" : ", ") + d.name;
  throw InvalidArgument(str_cat("load_dataset: unknown dataset '", name, "' (known: ", known, ")"));
}

SplitIndices stratified_split(const ConstLabelRef& y, double test_fraction, std::uint64_t seed) {
  ELMQ_CHECK_ARG(test_fraction >= 0.0 && test_fraction < 1.0,
                 "stratified_split: test_fraction must be in [0, 1), got ", test_fraction);
  std::map<std::int64_t, std::vector<Index>> by_class;  // ordered: the visit order is fixed
  for (Index i = 0; i < y.size(); ++i) by_class[y[i]].push_back(i);
  Rng rng(seed);
  auto shuffle = [&rng](std::vector<Index>& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      std::swap(v[i - 1], v[static_cast<std::size_t>(rng.below(i))]);
    }
  };
  SplitIndices out;
  for (auto& [label, rows] : by_class) {
    shuffle(rows);
    const auto count = static_cast<std::int64_t>(rows.size());
    const std::int64_t n_test =
        std::min<std::int64_t>(std::llround(static_cast<double>(count) * test_fraction), count - 1);
    out.test.insert(out.test.end(), rows.begin(), rows.begin() + n_test);
    out.train.insert(out.train.end(), rows.begin() + n_test, rows.end());
  }
  shuffle(out.train);
  shuffle(out.test);
  return out;
}

std::string find_sklearn_data_dir(const std::string& data_dir) {
  for (const auto& d : sklearn_candidates(data_dir)) {
    if (is_file(d / "iris.csv")) return d.string();
  }
  return {};
}

}  // namespace elmq
