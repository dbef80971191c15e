// SPDX-License-Identifier: GPL-2.0
/*
 * svtrace's libbpf backend: IEC 61850-9-2 Sampled Values timestamped at up to 8 kernel points on raw
 * tracepoints, matched in the kernel by (stream, smpCnt, iteration % STALE_PERIODS) with the same semantics as
 * the generated bpftrace program (src/bpftrace/generate.ts), rows delivered through a BPF ring buffer without a
 * wakeup per SV (user space polls). Configuration (points, filters, stream mode, clock) is read-only data set by
 * the loader (src/libbpf/loader.ts) before load; the svID list goes in the `streams` map after load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define MAX_POINTS 8
#define MAX_TIDS 8
#define MAX_SVID 64
#define STALE_PERIODS 4
#define ITERATION_WORD_STEP 16
#define SW_RING 32 /* sched_switch events kept per CPU (a power of two) */

/* attach ids: the loader's ATTACH_IDS must agree */
#define A_NETIF_RECEIVE_SKB 1
#define A_NETIF_RX 2
#define A_NET_DEV_QUEUE 3
#define A_NET_DEV_START_XMIT 4
#define A_NAPI_GRO_RECEIVE_ENTRY 5
#define A_SKB_COPY_DATAGRAM_IOVEC 6
#define A_CONSUME_SKB 7

/* record types in the ring buffer */
#define E_ROW 1        /* complete: seen at the last point */
#define E_INCOMPLETE 2 /* never reached the last point, its slot taken by a later iteration */
#define E_GAP 3
#define E_DUP 4
#define E_STREAM 5

struct point_cfg {
	__u32 attach;
	__u32 netns_via; /* 0 none, 1 device, 2 task */
	__u64 netns;
	__u32 has_dev;
	__u32 comm_mode; /* 0 none, 1 exact, 2 prefix */
	__u32 comm_len;
	__u32 n_tids;
	char dev[16];
	char comm[16];
	__u32 tids[MAX_TIDS];
};

struct config {
	__u32 n_points;
	__u32 all_streams; /* 1: every svID gets a number on first sight (announced by E_STREAM) */
	__u32 use_tai;
	__u32 context; /* 1: rows carry struct point_ctx per point (struct event_ctx) */
	struct point_cfg pt[MAX_POINTS];
	__u64 wait_ns; /* context: wait analysis of segments longer than this (0: none) */
};

const volatile struct config cfg SEC(".rodata.cfg") = {};

struct svid_key {
	__u32 len;
	char id[MAX_SVID];
};

struct word_key {
	__u64 stream;
	__u64 point;
};

struct slot_key {
	__u64 stream;
	__u64 smp;
	__u64 slot;
};

struct slot {
	__u64 it;
	__u64 t[MAX_POINTS - 1];
};

struct event {
	__u32 type;
	__u32 stream;
	__u32 smp;
	__u32 appid;
	__u64 it; /* E_GAP: expected smpCnt; E_DUP: point */
	__u64 refrtm;
	__u64 t[MAX_POINTS];
};

/* the CPU and thread at a point, and the wait analysis of the segment ending there */
struct point_ctx {
	__u32 cpu;
	__u32 tid;
	char comm[16];
	__u32 run;	/* ns the thread ran on this CPU since its last switch-in (or the whole segment) */
	__u32 runnable; /* ns it was woken (or preempted) but waiting for this CPU */
	__u32 sleep;	/* ns of the segment before its wakeup */
	__u32 blocker;	/* pid that held this CPU longest while it was runnable */
	char blocker_comm[16];
	__u32 flags; /* 1: context set, 2: wait analysis done */
	__u32 pad;
};

struct event_ctx {
	struct event e;
	struct point_ctx c[MAX_POINTS];
};

struct ctx_slot {
	__u64 it;
	struct point_ctx c[MAX_POINTS];
};

struct sw {
	__u64 ts;
	__u32 prev;
	__u32 next;
	char next_comm[16];
};

struct sw_ring {
	__u64 head;
	struct sw e[SW_RING];
};

struct stream_event {
	__u32 type;
	__u32 stream;
	struct svid_key key;
};

/* svID (exact, length and bytes) -> stream number */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct svid_key);
	__type(value, __u64);
} streams SEC(".maps");

/* (stream, point) -> iteration << 32 | last smpCnt + 1 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096 * MAX_POINTS);
	__type(key, struct word_key);
	__type(value, __u64);
} words SEC(".maps");

/* SVs between the first point and the last (max_entries set by the loader) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 196608);
	__type(key, struct slot_key);
	__type(value, struct slot);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} rows SEC(".maps");

/* counters read by the loader */
struct counters {
	__s64 pend;
	__u64 lost;
	__u64 next_stream;
} cnt = {};

/* context of the points an SV passed so far (max_entries set by the loader; 1 without context) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct slot_key);
	__type(value, struct ctx_slot);
} ctx_pending SEC(".maps");

/* never written: the zeroed value a new ctx_pending entry starts from */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctx_slot);
} ctx_zero SEC(".maps");

/* per CPU: the last SW_RING context switches */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_ring);
} switches SEC(".maps");

/* pid -> time of its last wakeup */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} wakes SEC(".maps");

/* per-CPU scratch point context */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct point_ctx);
} pctx SEC(".maps");

/* a per-CPU scratch key: 68 bytes are too many to zero on the stack cheaply in every branch */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct svid_key);
} scratch SEC(".maps");

static __always_inline __u64 rd64(const unsigned char *p)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, 8, p);
	return v;
}

static __always_inline __u32 rd32(const unsigned char *p)
{
	__u32 v = 0;
	bpf_probe_read_kernel(&v, 4, p);
	return v;
}

/* TLV header at p + q: tag, length (short, 0x81 n, 0x82 n n), header size */
struct tlv {
	__u64 tg, L, h;
};

static __always_inline void tlv_header(const unsigned char *p, __u64 q, struct tlv *t)
{
	__u64 w = rd32(p + q);
	__u64 b = (w >> 8) & 0xff;
	t->tg = w & 0xff;
	t->L = b;
	t->h = 2;
	if (b == 0x81) {
		t->L = (w >> 16) & 0xff;
		t->h = 3;
	}
	if (b == 0x82) {
		t->L = (((w >> 16) & 0xff) << 8) | ((w >> 24) & 0xff);
		t->h = 4;
	}
}

static __always_inline int emit_simple(__u32 type, __u64 stream, __u64 smp, __u64 appid, __u64 it)
{
	struct event *e = bpf_ringbuf_reserve(&rows, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&cnt.lost, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->stream = stream;
	e->smp = smp;
	e->appid = appid;
	e->it = it;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

static __always_inline int point_matches(const volatile struct point_cfg *pc, struct sk_buff *skb,
					 struct net_device *dev)
{
	if (pc->has_dev) {
		char name[16];
		bpf_probe_read_kernel(name, sizeof(name), dev->name);
		for (int i = 0; i < 16; i++) {
			if (name[i] != pc->dev[i])
				return 0;
			if (name[i] == 0)
				break;
		}
	}
	if (pc->netns_via == 1) {
		struct net_device *sd = BPF_CORE_READ(skb, dev);
		__u64 inum = BPF_CORE_READ(sd, nd_net.net, ns.inum);
		if (inum != pc->netns)
			return 0;
	} else if (pc->netns_via == 2) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		__u64 inum = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
		if (inum != pc->netns)
			return 0;
	}
	if (pc->comm_mode) {
		char comm[16];
		bpf_get_current_comm(comm, sizeof(comm));
		for (int i = 0; i < 16; i++) {
			if (pc->comm_mode == 2 && i >= pc->comm_len)
				break;
			if (comm[i] != pc->comm[i])
				return 0;
			if (comm[i] == 0)
				break;
		}
	}
	if (pc->n_tids) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		int hit = 0;
		for (int i = 0; i < MAX_TIDS; i++)
			if (i < pc->n_tids && pc->tids[i] == tid)
				hit = 1;
		if (!hit)
			return 0;
	}
	return 1;
}

static __always_inline __u64 now_ns(void)
{
	return cfg.use_tai ? bpf_ktime_get_tai_ns() : bpf_ktime_get_ns();
}

static __always_inline __u32 clamp32(__u64 v)
{
	return v > 0xffffffffULL ? 0xffffffff : (__u32)v;
}

/* the walk of a CPU's recent switches, newest first (bpf_loop: the verifier checks one step, not 32) */
struct walk {
	__u64 head, prev, wake, tid;
	__u64 last_in, lo, later, best;
	__u32 best_pid, best_i;
};

static long walk_step(__u64 i, void *arg)
{
	struct walk *w = arg;
	__u32 zero = 0;
	struct sw_ring *ring = bpf_map_lookup_elem(&switches, &zero);
	if (!ring || i >= w->head)
		return 1;
	__u32 idx = (w->head - 1 - i) & (SW_RING - 1);
	struct sw *e = &ring->e[idx];
	__u64 ts = e->ts;
	if (!w->last_in) {
		if (ts <= w->prev)
			return 1;
		if (e->next == w->tid) {
			w->last_in = ts;
			w->later = ts;
			w->lo = w->wake > w->prev && w->wake < ts ? w->wake : w->prev;
		}
		return 0;
	}
	/* e->next held the CPU from max(ts, lo) to `later` */
	__u64 from = ts > w->lo ? ts : w->lo;
	if (w->later > from && e->next != w->tid && w->later - from > w->best) {
		w->best = w->later - from;
		w->best_pid = e->next;
		w->best_i = idx;
	}
	if (ts <= w->lo)
		return 1;
	w->later = ts;
	return 0;
}

/*
 * The CPU and thread running now; when now - prev > wait_ns, what this CPU did since prev: the thread's last
 * switch-in on it (run = after it), its last wakeup (sleep = before it), runnable between the two, and the
 * task that held the CPU longest while it was runnable (the blocker).
 */
static __noinline int fill_ctx(struct point_ctx *pc, __u64 now, __u64 prev)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	pc->cpu = bpf_get_smp_processor_id();
	pc->tid = tid;
	bpf_get_current_comm(pc->comm, sizeof(pc->comm));
	pc->run = 0;
	pc->runnable = 0;
	pc->sleep = 0;
	pc->blocker = 0;
	__builtin_memset(pc->blocker_comm, 0, sizeof(pc->blocker_comm));
	pc->flags = 1;
	if (!cfg.wait_ns || prev == 0 || now <= prev || now - prev <= cfg.wait_ns)
		return 0;
	__u32 zero = 0;
	struct sw_ring *ring = bpf_map_lookup_elem(&switches, &zero);
	if (!ring)
		return 0;
	__u64 *wp = bpf_map_lookup_elem(&wakes, &tid);
	struct walk w = {
		.head = ring->head, .prev = prev, .wake = wp ? *wp : 0, .tid = tid, .lo = prev, .later = now,
	};
	bpf_loop(SW_RING, walk_step, &w, 0);
	__u64 last_in = w.last_in, lo = w.lo;
	pc->run = clamp32(now - (last_in ? last_in : prev));
	if (last_in) {
		pc->runnable = clamp32(last_in - lo);
		pc->sleep = clamp32(lo - prev);
		if (w.best) {
			pc->blocker = w.best_pid;
			__builtin_memcpy(pc->blocker_comm, ring->e[w.best_i & (SW_RING - 1)].next_comm, 16);
		}
	}
	pc->flags = 3;
	return 0;
}

/* point k's context into the SV's ctx_pending entry (a new one when it holds another iteration) */
static __always_inline void store_ctx(struct slot_key *sk, __u64 it, __u32 k, struct point_ctx *pc)
{
	struct ctx_slot *cs = bpf_map_lookup_elem(&ctx_pending, sk);
	if (!cs || cs->it != it) {
		__u32 zero = 0;
		struct ctx_slot *z = bpf_map_lookup_elem(&ctx_zero, &zero);
		if (!z)
			return;
		bpf_map_update_elem(&ctx_pending, sk, z, BPF_ANY);
		cs = bpf_map_lookup_elem(&ctx_pending, sk);
		if (!cs)
			return;
		cs->it = it;
	}
	if (k >= 1 && k <= MAX_POINTS)
		__builtin_memcpy(&cs->c[(k - 1) & (MAX_POINTS - 1)], pc, sizeof(*pc));
}

/* the last point with context: the row as struct event_ctx, every point's context from ctx_pending */
static __always_inline int last_ctx(__u64 s, __u64 smp, __u64 appid, __u64 it, __u64 rt, __u64 now, __u32 n)
{
	struct event_ctx *ev = bpf_ringbuf_reserve(&rows, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&cnt.lost, 1);
		return 0;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->e.type = E_ROW;
	ev->e.stream = s;
	ev->e.smp = smp;
	ev->e.appid = appid;
	ev->e.it = it;
	ev->e.refrtm = rt;
	__u64 prev = 0;
	if (n > 1) {
		struct slot_key sk = { .stream = s, .smp = smp, .slot = it % STALE_PERIODS };
		struct slot *pv = bpf_map_lookup_elem(&pending, &sk);
		if (pv && pv->it == it) {
#pragma unroll
			for (int j = 0; j < MAX_POINTS - 1; j++) {
				ev->e.t[j] = pv->t[j];
				if (j + 1 < n && pv->t[j])
					prev = pv->t[j];
			}
			bpf_map_delete_elem(&pending, &sk);
			__sync_fetch_and_add(&cnt.pend, -1);
		}
		struct ctx_slot *cs = bpf_map_lookup_elem(&ctx_pending, &sk);
		if (cs) {
			if (cs->it == it)
				__builtin_memcpy(ev->c, cs->c, sizeof(cs->c));
			bpf_map_delete_elem(&ctx_pending, &sk);
		}
	}
	if (n >= 1 && n <= MAX_POINTS) {
		ev->e.t[(n - 1) & (MAX_POINTS - 1)] = now;
		fill_ctx(&ev->c[(n - 1) & (MAX_POINTS - 1)], now, prev);
	}
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
	return 0;
}

static __always_inline int handle(struct sk_buff *skb, struct net_device *xdev, __u32 attach)
{
	__u64 proto = BPF_CORE_READ(skb, protocol);
	/* 0x88BA or 0x8100 in network order read on a little-endian CPU */
	if (proto != 0xba88 && proto != 0x0081)
		return 0;
	/* the time the frame reached the tracepoint: read before the point match, the TLV walk and the map
	 * lookups, whose run time varies (cold maps, long svIDs); same place as bpftrace's `$now = nsecs` */
	__u64 now = now_ns();
	struct net_device *dev = xdev ? xdev : BPF_CORE_READ(skb, dev);
	__u32 k = 0;
#pragma unroll
	for (int i = 0; i < MAX_POINTS; i++) {
		if (k == 0 && i < cfg.n_points && cfg.pt[i].attach == attach && point_matches(&cfg.pt[i], skb, dev))
			k = i + 1;
	}
	if (k == 0)
		return 0;
	__u32 n = cfg.n_points;

	/* frame: MAC header, 802.1Q tag in the frame or already in skb->vlan_all */
	__u64 mh = BPF_CORE_READ(skb, mac_header);
	if (mh == 0xffff)
		return 0;
	const unsigned char *p = BPF_CORE_READ(skb, head) + mh;
	__u64 e = 12;
	__u64 w = rd32(p + 12);
	if ((w & 0xffff) == 0x0081) {
		e = 16;
		w = rd32(p + 16);
	}
	if ((w & 0xffff) != 0xba88)
		return 0;
	__u64 appid = (((w >> 16) & 0xff) << 8) | ((w >> 24) & 0xff);
	__u64 q = e + 10, na, vl;
	__u64 x = rd64(p + q);
	__u64 y = rd64(p + q + 8);
	struct tlv t;
	if ((x & 0x80ff) == 0x0060 && ((x >> 16) & 0xffff) == 0x0180 && ((x >> 40) & 0x80ff) == 0x00a2 &&
	    (x >> 56) == 0x30 && (y & 0xff80) == 0x8000 && (y & 0x800000) == 0) {
		na = (x >> 32) & 0xff;
		vl = (y >> 16) & 0xff;
		q += 11;
	} else {
		tlv_header(p, q, &t);
		if (t.tg != 0x60)
			return 0;
		q += t.h;
		tlv_header(p, q, &t);
		if (t.tg != 0x80)
			return 0;
		na = 1;
		if (t.L == 1) {
			unsigned char b = 0;
			bpf_probe_read_kernel(&b, 1, p + q + t.h);
			na = b;
		}
		q += t.h + t.L;
		tlv_header(p, q, &t);
		if (t.tg == 0x81) {
			q += t.h + t.L;
			tlv_header(p, q, &t);
		}
		if (t.tg != 0xa2)
			return 0;
		q += t.h;
		tlv_header(p, q, &t);
		if (t.tg != 0x30)
			return 0;
		q += t.h;
		tlv_header(p, q, &t);
		if (t.tg != 0x80)
			return 0;
		vl = t.L;
		q += t.h;
	}
	if (vl == 0 || vl >= MAX_SVID)
		return 0;
	__u32 zero = 0;
	struct svid_key *key = bpf_map_lookup_elem(&scratch, &zero);
	if (!key)
		return 0;
	__builtin_memset(key, 0, sizeof(*key));
	key->len = vl;
	bpf_probe_read_kernel(key->id, vl & (MAX_SVID - 1), p + q);
	q += vl;

	/* the ASDU after svID: [datSet 81], smpCnt 82, confRev 83, [refrTm 84] */
	__u64 smp;
	x = rd64(p + q);
	int fa = (x & 0xffff) == 0x0282 && ((x >> 32) & 0xffff) == 0x0483;
	if (fa) {
		smp = (((x >> 16) & 0xff) << 8) | ((x >> 24) & 0xff);
	} else {
		tlv_header(p, q, &t);
		if (t.tg == 0x81) {
			q += t.h + t.L;
			tlv_header(p, q, &t);
		}
		if (t.tg != 0x82 || t.L != 2)
			return 0;
		__u16 v = 0;
		bpf_probe_read_kernel(&v, 2, p + q + t.h);
		smp = ((v & 0xff) << 8) | ((v >> 8) & 0xff);
		q += t.h + t.L;
	}

	/* stream number */
	__u64 s;
	__u64 *sp = bpf_map_lookup_elem(&streams, key);
	if (sp) {
		s = *sp;
	} else {
		if (!cfg.all_streams)
			return 0;
		s = __sync_fetch_and_add(&cnt.next_stream, 1) + 1;
		if (bpf_map_update_elem(&streams, key, &s, BPF_NOEXIST) == 0) {
			struct stream_event *se = bpf_ringbuf_reserve(&rows, sizeof(*se), 0);
			if (se) {
				se->type = E_STREAM;
				se->stream = s;
				__builtin_memcpy(&se->key, key, sizeof(*key));
				bpf_ringbuf_submit(se, BPF_RB_NO_WAKEUP);
			} else {
				__sync_fetch_and_add(&cnt.lost, 1);
			}
		} else {
			sp = bpf_map_lookup_elem(&streams, key);
			if (!sp)
				return 0;
			s = *sp;
		}
	}

	__u64 rt = 0;
	if (k == n) {
		if (fa) {
			__u64 yy = rd64(p + q + 8);
			if (((yy >> 16) & 0xffff) == 0x0884)
				rt = __builtin_bswap64(rd64(p + q + 12)) >> 8;
		} else {
			tlv_header(p, q, &t);
			if (t.tg == 0x83) {
				q += t.h + t.L;
				tlv_header(p, q, &t);
			}
			if (t.tg == 0x84 && t.L == 8)
				rt = __builtin_bswap64(rd64(p + q + t.h)) >> 8;
		}
	}

	/* iteration word of this point (see iterationCode in generate.ts) */
	struct word_key wk = { .stream = s, .point = k };
	__u64 *wp = bpf_map_lookup_elem(&words, &wk);
	__u64 wv = wp ? *wp : 0;
	__u64 lp = wv & 0xffffffff;
	__u64 nx = lp;
	__u64 it = wv >> 32;
	__u64 next = k == 1 ? smp + na : smp + 1;
	int up = 0;
	if (lp == 0) {
		if (k == 1) {
			it = 2;
		} else {
			struct word_key fk = { .stream = s, .point = 1 };
			__u64 *fp = bpf_map_lookup_elem(&words, &fk);
			__u64 w1 = fp ? *fp : 0;
			__u64 l1 = w1 & 0xffffffff;
			it = w1 >> 32;
			if (it > 1 && smp + 1 > l1 + (l1 / 2) + 64)
				it = it - 1;
			if (it == 0)
				it = 1;
		}
		lp = next;
		up = 1;
	} else if (smp + 1 < lp) {
		if (smp + 1 < lp / 2) {
			it = it + 1;
			lp = next;
			up = 1;
		}
	} else if (k == 1 || smp + 1 >= lp + ITERATION_WORD_STEP) {
		lp = next;
		up = 1;
	}
	if (up) {
		__u64 nw = (it << 32) | lp;
		bpf_map_update_elem(&words, &wk, &nw, BPF_ANY);
	}

	if (n == 1) {
		if (nx != 0 && nx != smp)
			emit_simple(E_GAP, s, smp, appid, nx);
	} else {
		struct slot_key sk = { .stream = s, .smp = smp, .slot = it % STALE_PERIODS };
		struct slot *pv = bpf_map_lookup_elem(&pending, &sk);
		__u64 pit = pv ? pv->it : 0;
		if (k != n) {
			__u64 mine = 0;
			if (pv && k >= 1 && k < MAX_POINTS)
				mine = pv->t[(k - 1) & (MAX_POINTS - 1)];
			if (pit == it && mine != 0) {
				emit_simple(E_DUP, s, smp, appid, k);
				return 0;
			}
			struct slot nv = {};
			nv.it = it;
			if (pit != it) {
				if (pit != 0 && pv) {
					/* the slot holds an SV of another iteration that never reached the last point */
					struct event *ev = bpf_ringbuf_reserve(&rows, sizeof(*ev), 0);
					if (ev) {
						__builtin_memset(ev, 0, sizeof(*ev));
						ev->type = E_INCOMPLETE;
						ev->stream = s;
						ev->smp = smp;
						ev->appid = appid;
						ev->it = pit;
#pragma unroll
						for (int j = 0; j < MAX_POINTS - 1; j++)
							ev->t[j] = pv->t[j];
						bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
					} else {
						__sync_fetch_and_add(&cnt.lost, 1);
					}
				} else {
					__sync_fetch_and_add(&cnt.pend, 1);
				}
			} else if (pv) {
#pragma unroll
				for (int j = 0; j < MAX_POINTS - 1; j++)
					nv.t[j] = pv->t[j];
			}
			if (k == 1 && nx != 0 && nx != smp)
				emit_simple(E_GAP, s, smp, appid, nx);
			if (cfg.context) {
				__u64 prev = 0;
#pragma unroll
				for (int j = 0; j < MAX_POINTS - 1; j++)
					if (j + 1 < k && nv.t[j])
						prev = nv.t[j];
				struct point_ctx *pc = bpf_map_lookup_elem(&pctx, &zero);
				if (pc) {
					fill_ctx(pc, now, prev);
					store_ctx(&sk, it, k, pc);
				}
			}
			if (k >= 1 && k < MAX_POINTS)
				nv.t[(k - 1) & (MAX_POINTS - 1)] = now;
			bpf_map_update_elem(&pending, &sk, &nv, BPF_ANY);
			return 0;
		}
	}

	/* the last point: one row per SV */
	if (cfg.context)
		return last_ctx(s, smp, appid, it, rt, now, n);
	struct event *ev = bpf_ringbuf_reserve(&rows, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&cnt.lost, 1);
		return 0;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = E_ROW;
	ev->stream = s;
	ev->smp = smp;
	ev->appid = appid;
	ev->it = it;
	ev->refrtm = rt;
	if (n > 1) {
		struct slot_key sk = { .stream = s, .smp = smp, .slot = it % STALE_PERIODS };
		struct slot *pv = bpf_map_lookup_elem(&pending, &sk);
		if (pv && pv->it == it) {
#pragma unroll
			for (int j = 0; j < MAX_POINTS - 1; j++)
				ev->t[j] = pv->t[j];
			bpf_map_delete_elem(&pending, &sk);
			__sync_fetch_and_add(&cnt.pend, -1);
		}
	}
	if (n >= 1 && n <= MAX_POINTS)
		ev->t[(n - 1) & (MAX_POINTS - 1)] = now;
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("raw_tracepoint/netif_receive_skb")
int netif_receive_skb(struct bpf_raw_tracepoint_args *ctx)
{
	return handle((struct sk_buff *)ctx->args[0], 0, A_NETIF_RECEIVE_SKB);
}

SEC("raw_tracepoint/netif_rx")
int netif_rx(struct bpf_raw_tracepoint_args *ctx)
{
	return handle((struct sk_buff *)ctx->args[0], 0, A_NETIF_RX);
}

SEC("raw_tracepoint/net_dev_queue")
int net_dev_queue(struct bpf_raw_tracepoint_args *ctx)
{
	return handle((struct sk_buff *)ctx->args[0], 0, A_NET_DEV_QUEUE);
}

SEC("raw_tracepoint/net_dev_start_xmit")
int net_dev_start_xmit(struct bpf_raw_tracepoint_args *ctx)
{
	return handle((struct sk_buff *)ctx->args[0], (struct net_device *)ctx->args[1], A_NET_DEV_START_XMIT);
}

SEC("raw_tracepoint/napi_gro_receive_entry")
int napi_gro_receive_entry(struct bpf_raw_tracepoint_args *ctx)
{
	return handle((struct sk_buff *)ctx->args[0], 0, A_NAPI_GRO_RECEIVE_ENTRY);
}

SEC("raw_tracepoint/skb_copy_datagram_iovec")
int skb_copy_datagram_iovec(struct bpf_raw_tracepoint_args *ctx)
{
	return handle((struct sk_buff *)ctx->args[0], 0, A_SKB_COPY_DATAGRAM_IOVEC);
}

SEC("raw_tracepoint/consume_skb")
int consume_skb(struct bpf_raw_tracepoint_args *ctx)
{
	return handle((struct sk_buff *)ctx->args[0], 0, A_CONSUME_SKB);
}

/* context switches into this CPU's ring (record --context with the wait analysis) */
SEC("raw_tracepoint/sched_switch")
int sched_switch(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	__u32 zero = 0;
	struct sw_ring *r = bpf_map_lookup_elem(&switches, &zero);
	if (!r)
		return 0;
	__u64 h = r->head;
	struct sw *e = &r->e[h & (SW_RING - 1)];
	e->ts = now_ns();
	e->prev = BPF_CORE_READ(prev, pid);
	e->next = BPF_CORE_READ(next, pid);
	BPF_CORE_READ_INTO(&e->next_comm, next, comm);
	r->head = h + 1;
	return 0;
}

SEC("raw_tracepoint/sched_wakeup")
int sched_wakeup(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *p = (struct task_struct *)ctx->args[0];
	__u32 pid = BPF_CORE_READ(p, pid);
	__u64 now = now_ns();
	bpf_map_update_elem(&wakes, &pid, &now, BPF_ANY);
	return 0;
}

/* an empty program: the bench's floor for the cost of a raw tracepoint alone */
SEC("raw_tracepoint/netif_receive_skb")
int empty(struct bpf_raw_tracepoint_args *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
