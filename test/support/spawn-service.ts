// Each role as its own process, started exactly as `juice up` starts them.
export { startRoleProcess as startRole, type Role, type RoleProcess as RunningRole } from '@juice/cli';
