// Raw system calls for the attack programs, which are built without a libc (-nostdlib -static):
// they must run as an ELF interpreter, before any loader exists. x86_64 and aarch64.
#pragma once

#define O_RDONLY 0
#define O_WRONLY 1
#define O_CREAT 0100
#define O_TRUNC 01000
#define AT_FDCWD -100
#define ETXTBSY 26

#if defined(__x86_64__)
#define NR_write 1
#define NR_close 3
#define NR_dup3 292
#define NR_openat 257
#define NR_nanosleep 35
#define NR_execve 59
#define NR_exit 60
static inline long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
static inline long sys4(long n, long a, long b, long c, long d) {
  long r;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return r;
}
#elif defined(__aarch64__)
#define NR_write 64
#define NR_close 57
#define NR_dup3 24
#define NR_openat 56
#define NR_nanosleep 101
#define NR_execve 221
#define NR_exit 93
static inline long sys4(long n, long a, long b, long c, long d) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
static inline long sys3(long n, long a, long b, long c) { return sys4(n, a, b, c, 0); }
#else
#error "the attack programs know x86_64 and aarch64"
#endif

static inline long sys_open(const char* path, long flags, long mode) {
  return sys4(NR_openat, AT_FDCWD, (long)path, flags, mode);
}
static inline unsigned long str_len(const char* s) {
  unsigned long n = 0;
  while (s[n]) ++n;
  return n;
}
static inline void put(long fd, const char* s) { sys3(NR_write, fd, (long)s, (long)str_len(s)); }
static inline __attribute__((noreturn)) void sys_exit(long code) {
  for (;;) sys3(NR_exit, code, 0, 0);
}
// Writes `text` (and, when err > 0, " errno N") to /out/result: what the test reads on the host.
static inline void report(const char* text, long err) {
  long fd = sys_open("/out/result", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  put(fd, text);
  if (err > 0) {
    char num[24];
    int i = sizeof num - 1;
    num[i] = 0;
    do num[--i] = (char)('0' + err % 10);
    while ((err /= 10) > 0);
    put(fd, " errno ");
    put(fd, num + i);
  }
  put(fd, "\n");
  sys3(NR_close, fd, 0, 0);
}
