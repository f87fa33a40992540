// The cloud's pages, registered in the route table (first match wins, so
// the namespace page comes before the group-kind object route of the same
// length).
import { addRoute } from '../routes.js';
import { Login, Signin } from './login.jsx';
import { ClusterList, GroupKindList, GroupPage, Home, NamespacePage, NsKindList } from './lists.jsx';
import { ObjectPage } from './object.jsx';
import { Apply } from './apply.jsx';
import { Nodes } from './nodes.jsx';

addRoute('/login', Login, { chrome: false, auth: false });
addRoute('/signin', Signin, { chrome: false, auth: false });
addRoute('/', Home);
addRoute('/apply', Apply);
addRoute('/nodes', Nodes);
addRoute('/c/:plural', ClusterList);
addRoute('/c/:plural/:id', ObjectPage);
addRoute('/g/:group', GroupPage);
addRoute('/g/:group/ns/:namespace', NamespacePage);
addRoute('/g/:group/:plural', GroupKindList);
addRoute('/g/:group/:plural/:id', ObjectPage);
addRoute('/g/:group/ns/:namespace/:plural', NsKindList);
addRoute('/g/:group/ns/:namespace/:plural/:id', ObjectPage);
