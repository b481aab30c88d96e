// Starts the dashboard: loads the wasm-bindgen glue and instantiates the module. A file of its
// own, not an inline script, so the Content-Security-Policy needs no 'unsafe-inline'. The build
// (scripts/build-frontend.sh) rewrites both names to their content-hashed ones.
import init from '/license_dashboard.js';
init({ module_or_path: '/license_dashboard_bg.wasm' });
