export { main } from './main.js';
export { startRoleProcess, ROLES, type Role, type RoleProcess } from './roles.js';
export { Progress } from './progress.js';
