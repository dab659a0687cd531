// The dependency graph of channels: which tensor slices must lose the same
// channels. See build.ts for how it is built and rules.ts for the per-op rules.

export { buildDependencyGraph, type BuildOptions } from './build';
export type { RuleContext, Rule } from './context';
export { RULES, type RuleTable } from './rules';
export { elementwise } from './channels';
export { expand, repeatEach, tieGroups } from './indexMapping';
export type {
  ChannelGroup, DepGraph, GqaMode, GroupKind, Fixup, FixupContext, LayerChannels, MemberRole, SliceMember, Source, ValueChannels,
} from './types';
export { UnitTable } from './units';
