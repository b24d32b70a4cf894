// Describes the machine a benchmark ran on, so printed numbers can be compared.
import os from "node:os";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  ramGiB: number;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown cpu",
    cores: cpus.length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

/** One line: "cpu: …, 2 cores, 7.8 GiB RAM, node v20.x, linux …". */
export function describeMachine(): string {
  const m = machineInfo();
  return `machine: ${m.cpuModel}, ${m.cores} cores, ${m.ramGiB} GiB RAM, node ${m.node}, ${m.platform}`;
}
