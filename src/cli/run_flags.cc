#include "cli/run_flags.h"

namespace berth::cli {
namespace {

// One value per occurrence, repeatable, in order: `-e A=1 -e B=2`, never `-e A=1 B=2`.
CLI::Option* Repeatable(CLI::App& cmd, const std::string& names, std::vector<std::string>& into,
                        const std::string& help) {
  return cmd.add_option(names, into, help)->allow_extra_args(false)->type_size(1);
}

}  // namespace

void AddRunFlags(CLI::App& cmd, engine::RawRunFlags& raw) {
  cmd.set_help_flag("--help", "Print usage");
  cmd.prefix_command();
  // Help texts are docker 24's.
  cmd.add_flag("-d,--detach", raw.detach, "Run container in background and print container ID");
  cmd.add_flag("-i,--interactive", raw.interactive, "Keep STDIN open even if not attached");
  cmd.add_flag("-t,--tty", raw.tty, "Allocate a pseudo-TTY");
  cmd.add_flag("--rm", raw.rm, "Automatically remove the container when it exits");
  cmd.add_option("--name", raw.name, "Assign a name to the container");
  Repeatable(cmd, "-e,--env", raw.env, "Set environment variables");
  Repeatable(cmd, "--env-file", raw.env_file, "Read in a file of environment variables");
  Repeatable(cmd, "-v,--volume", raw.volume, "Bind mount a volume");
  Repeatable(cmd, "--mount", raw.mount, "Attach a filesystem mount to the container");
  Repeatable(cmd, "-p,--publish", raw.publish, "Publish a container's port(s) to the host");
  cmd.add_flag("-P,--publish-all", raw.publish_all, "Publish all exposed ports to random ports");
  cmd.add_option("-w,--workdir", raw.workdir, "Working directory inside the container");
  cmd.add_option("-u,--user", raw.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  cmd.add_option("--entrypoint", raw.entrypoint, "Overwrite the default ENTRYPOINT of the image");
  cmd.add_option("-h,--hostname", raw.hostname, "Container host name");
  Repeatable(cmd, "--add-host", raw.add_host, "Add a custom host-to-IP mapping (host:ip)");
  Repeatable(cmd, "--dns", raw.dns, "Set custom DNS servers");
  Repeatable(cmd, "--dns-search", raw.dns_search, "Set custom DNS search domains");
  Repeatable(cmd, "--dns-option,--dns-opt", raw.dns_option, "Set DNS options");
  cmd.add_option("--network,--net", raw.network, "Connect a container to a network")
      ->capture_default_str();
  cmd.add_option("--cpus", raw.cpus, "Number of CPUs");
  cmd.add_option("-c,--cpu-shares", raw.cpu_shares, "CPU shares (relative weight)");
  cmd.add_option("--cpuset-cpus", raw.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  cmd.add_option("-m,--memory", raw.memory, "Memory limit");
  cmd.add_option("--memory-swap", raw.memory_swap,
                 "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
  cmd.add_option("--pids-limit", raw.pids_limit,
                 "Tune container pids limit (set -1 for unlimited)");
  cmd.add_option("--shm-size", raw.shm_size, "Size of /dev/shm");
  Repeatable(cmd, "--ulimit", raw.ulimit, "Ulimit options");
  cmd.add_flag("--read-only", raw.read_only, "Mount the container's root filesystem as read only");
  Repeatable(cmd, "--tmpfs", raw.tmpfs, "Mount a tmpfs directory");
  Repeatable(cmd, "--cap-add", raw.cap_add, "Add Linux capabilities");
  Repeatable(cmd, "--cap-drop", raw.cap_drop, "Drop Linux capabilities");
  cmd.add_flag("--privileged", raw.privileged, "Give extended privileges to this container");
  Repeatable(cmd, "--device", raw.device,
             "Add a host device to the container (a path, or a CDI name: nvidia.com/gpu=0)");
  cmd.add_option("--gpus", raw.gpus,
                 "GPU devices to add to the container ('all' to pass all GPUs; 2; "
                 "'\"device=0,2\"'; '\"capabilities=compute,utility\",device=1')");
  Repeatable(cmd, "--security-opt", raw.security_opt, "Security Options");
  cmd.add_flag("--init", raw.init,
               "Run an init inside the container that forwards signals and reaps processes");
  Repeatable(cmd, "-l,--label", raw.label, "Set meta data on a container");
  Repeatable(cmd, "--label-file", raw.label_file, "Read in a line delimited file of labels");
  Repeatable(cmd, "--sysctl", raw.sysctl, "Sysctl options");
  Repeatable(cmd, "--group-add", raw.group_add, "Add additional groups to join");
  cmd.add_option("--stop-signal", raw.stop_signal, "Signal to stop the container");
  cmd.add_option("--stop-timeout", raw.stop_timeout, "Timeout (in seconds) to stop a container");
  cmd.add_option("--restart", raw.restart, "Restart policy to apply when a container exits")
      ->capture_default_str();
  cmd.add_option("--health-cmd", raw.health_cmd, "Command to run to check health");
  cmd.add_option("--health-interval", raw.health_interval,
                 "Time between running the check (ms|s|m|h) (default 0s)");
  cmd.add_option("--health-retries", raw.health_retries,
                 "Consecutive failures needed to report unhealthy");
  cmd.add_option("--health-timeout", raw.health_timeout,
                 "Maximum time to allow one check to run (ms|s|m|h) (default 0s)");
  cmd.add_option("--health-start-period", raw.health_start_period,
                 "Start period for the container to initialize before starting health-retries "
                 "countdown (ms|s|m|h) (default 0s)");
  cmd.add_flag("--no-healthcheck", raw.no_healthcheck,
               "Disable any container-specified HEALTHCHECK");
  cmd.add_option("--pull", raw.pull,
                 "Pull image before running (\"always\", \"missing\", \"never\")")
      ->capture_default_str();
  cmd.add_option("--platform", raw.platform, "Set platform if server is multi-platform capable");
  cmd.footer("Usage: " + cmd.get_name() + " [OPTIONS] IMAGE [COMMAND] [ARG...]");
  // With no positional declared, the first word that is not a flag (IMAGE) and everything
  // after it are left unparsed by the prefix command: they are the image and its command.
  cmd.parse_complete_callback([&cmd, &raw] {
    auto rest = cmd.remaining();
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
    if (rest.empty()) return;
    // A prefix command also leaves unknown flags unparsed; before IMAGE they are errors.
    if (rest.front().size() > 1 && rest.front().front() == '-')
      throw CLI::ExtrasError(std::vector<std::string>{rest.front()});
    raw.image = rest.front();
    raw.command.assign(rest.begin() + 1, rest.end());
  });
}

}  // namespace berth::cli
