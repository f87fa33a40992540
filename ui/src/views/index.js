// The cloud's pages, registered in the route table.
import { addRoute } from '../routes.js';
import { Home } from './home.jsx';

addRoute('/', Home);
