// One visitor from several lambdas, for std::visit over a result's variant.
#pragma once

namespace hpn::ops {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace hpn::ops
