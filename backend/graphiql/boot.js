// Starts GraphiQL on the page /graphiql, after React, ReactDOM and GraphiQL (scripts deferred in
// that order). A file of its own, so the page's Content-Security-Policy allows no inline script.
// Requests go to /graphql on this origin with the browser's dashboard session, if any; an API
// key goes into the Headers pane: {"X-API-Key": "AF-…"}.
'use strict';
const fetcher = GraphiQL.createFetcher({ url: new URL('/graphql', window.location.href).href });
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }),
);
