#include <cstdio>

int main() {
  std::fprintf(stderr, "ember: no command given\n");
  return 2;
}
