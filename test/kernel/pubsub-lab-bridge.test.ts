/**
 * Publisher (svt-pub/pub0) -> Linux bridge lab -> subscriber (svt-vm/vm0), 8 streams for 10 s: the subscriber
 * receives every frame (0 missing, 0 duplicates) and its per-stream counts equal the publisher's.
 * The lab comes from `svtrace lab up` with SVTRACE_LAB_PREFIX (default svt-) and is torn down in `after`.
 */
import { completeDeliveryTest } from "./pubsub-lab-support.js";

completeDeliveryTest("bridge");
