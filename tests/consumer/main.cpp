// Trains a small ELM through the installed package and checks it learned.
#include <cstdio>

#include "elm/elm_model.h"

int main() {
  elmq::RowMatrixXf x(200, 2);
  elmq::LabelVector y(200);
  for (int i = 0; i < 200; ++i) {
    const float a = static_cast<float>(i % 20) / 10.0f - 1.0f, b = static_cast<float>(i / 20) / 5.0f - 1.0f;
    x(i, 0) = a;
    x(i, 1) = b;
    y[i] = a * a + b * b < 0.5f ? 1 : 0;
  }
  elmq::ElmConfig config;
  config.hidden.groups = {{100, elmq::Activation::kTanh}};
  elmq::ElmModel model(config);
  model.fit(x, y);
  const double acc = model.score(x, y);
  std::printf("consumer: training accuracy %.3f\n", acc);
  return acc > 0.9 ? 0 : 1;
}
