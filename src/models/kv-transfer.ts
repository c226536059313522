/**
 * P/D disaggregation: the time to move a prompt's KV from the prefill pod to the decode pod.
 *
 *   time = blocks × block size × KV bytes per token per TP rank ÷ link bandwidth + latency
 *
 * Each TP rank moves its own shard over its own link in parallel (one NIC per GPU), so bytes and bandwidth are per
 * rank / per GPU. The decode pod reads whole blocks (vLLM's NIXL connector pulls the block ids of the prompt it does
 * not hold: `get_num_new_matched_tokens` returns prompt − locally computed tokens, `update_state_after_alloc` lists the
 * fresh blocks; vllm/distributed/kv_transfer/kv_connector/v1/nixl/scheduler.py).
 *
 * Links (one direction, per GPU):
 * - `rdma` (default): NIXL over RDMA with one 400 Gb/s NVIDIA ConnectX-7 NIC per GPU (ConnectX-7 datasheet: up to
 *   400 Gb/s per port; DGX H100/H200 datasheet: 8 × single-port ConnectX-7, 400 Gb/s InfiniBand/Ethernet, one per
 *   GPU) = 50 GB/s.
 * - `nvlink`: both pods in one NVLink domain; H100 SXM NVLink 900 GB/s bidirectional (H100 datasheet), 450 GB/s per
 *   direction.
 * Latency: 50 µs per transfer for either link, BLIS's `--pd-transfer-base-latency` default 0.05 ms (inference-sim
 * cmd/root.go; BLIS itself calls it a modelling placeholder). The line rate is an upper bound: no protocol overhead,
 * no contention between concurrent transfers on a link (each transfer gets the whole link).
 */
import { InputError } from "../errors.ts";

export const KV_LINKS = ["rdma", "nvlink"] as const;
export type KvLink = (typeof KV_LINKS)[number];

/** Default bandwidth (GB/s, one direction, per GPU) and latency (µs) of each link; sources above. */
export const KV_LINK_DEFAULTS: Readonly<Record<KvLink, { readonly bandwidthGBs: number; readonly latencyUs: number }>> =
  {
    rdma: { bandwidthGBs: 400 / 8, latencyUs: 50 },
    nvlink: { bandwidthGBs: 450, latencyUs: 50 },
  };

/** A resolved link: bytes per second and seconds per transfer. */
export interface KvTransferLink {
  readonly link: KvLink;
  readonly bandwidthBytesPerS: number;
  readonly latencyS: number;
}

/** The link of a scenario's `kv_transfer` section (absent fields: the link's defaults). */
export function kvTransferLink(
  o: { link?: KvLink | undefined; bandwidth_gb_s?: number | undefined; latency_us?: number | undefined } = {},
): KvTransferLink {
  const link = o.link ?? "rdma";
  const d = KV_LINK_DEFAULTS[link];
  const gbs = o.bandwidth_gb_s ?? d.bandwidthGBs;
  const us = o.latency_us ?? d.latencyUs;
  if (!(gbs > 0) || !Number.isFinite(gbs)) throw new InputError(`kv_transfer.bandwidth_gb_s must be > 0, got ${gbs}`);
  if (!(us >= 0) || !Number.isFinite(us)) throw new InputError(`kv_transfer.latency_us must be ≥ 0, got ${us}`);
  return { link, bandwidthBytesPerS: gbs * 1e9, latencyS: us * 1e-6 };
}

/** Seconds to move `bytes` over `link`. */
export function kvTransferTime(link: KvTransferLink, bytes: number): number {
  return bytes / link.bandwidthBytesPerS + link.latencyS;
}
