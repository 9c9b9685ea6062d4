/**
 * The helpers the VM provides out of the box, by the kernel's ids.
 */
import { defineControlHelpers } from './control.js';
import { defineHostHelpers } from './host.js';
import { defineMapHelpers } from './maps.js';
import { defineOutputHelpers } from './output.js';
import { definePacketHelpers } from './packet.js';
import { HelperRegistry } from './registry.js';
import { defineStringHelpers } from './strings.js';

/** A fresh registry holding every built-in helper; add or replace entries to extend the VM. */
export function builtinHelpers(): HelperRegistry {
  const r = new HelperRegistry();
  defineMapHelpers(r);
  defineHostHelpers(r);
  defineOutputHelpers(r);
  defineStringHelpers(r);
  defineControlHelpers(r);
  definePacketHelpers(r);
  return r;
}
