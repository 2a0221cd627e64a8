/** Administration: POST /v1/admin/reload loads the model folders again and swaps them in (admin keys only). */
import { MedtuneError } from '../../common/errors.js';
import { modelRef, type RoutePlugin } from './shared.js';

export const adminRoutes: RoutePlugin = async (app, { st }) => {
  app.post(
    '/v1/admin/reload',
    { schema: { summary: 'load the model folders again and swap them in (admin keys)' } },
    async (req) => {
      if (st.keys && !req.principal?.admin)
        throw new MedtuneError('reloading needs an admin key (medtune serve keys add NAME --admin)', 'E_FORBIDDEN');
      const infos = await st.reload();
      req.log.info({ models: infos.map((i) => i.identity.version) }, 'models reloaded');
      return {
        reloaded: [...st.models.keys()],
        models: [...st.models].map(([name, info]) => modelRef(name, info)),
      };
    },
  );
};
