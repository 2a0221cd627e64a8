/**
 * Word lists shared by cleaning and augmentation: negation cues (NegEx's trigger list, Chapman et al. 2001, with
 * the contractions clinical notes use), scope terminators, units, dose frequencies and routes, clinical
 * abbreviations, common drug names and drug-name stems, number words, PHI tag patterns and stop words.
 * Everything is lower case; multi-word cues are matched word by word.
 */

/** Cues whose scope follows them ("denies chest pain"). */
export const NEGATION_PRE = [
  'no', 'not', 'without', 'denies', 'denied', 'deny', 'denying', 'never', 'none', 'neither', 'nor', 'cannot',
  "can't", 'cant', "don't", 'dont', "doesn't", 'doesnt', "didn't", 'didnt', "isn't", "wasn't", "aren't", "weren't",
  "haven't", "hasn't", "hadn't", "won't", "wouldn't", "couldn't", "shouldn't", 'nothing', 'nobody', 'w/o', 'non',
  'negative for', 'free of', 'absence of', 'absent', 'rule out', 'rules out', 'ruled out', 'r/o', 'lack of', 'lacks',
  'lacking', 'unable to', 'fails to reveal', 'failed to reveal', 'no evidence of', 'no sign of', 'no signs of',
  'not demonstrate', 'unremarkable for', 'declined', 'declines', 'refused', 'refuses', 'resolved', 'no longer',
  'negative',
];

/** Cues whose scope precedes them ("pneumonia was ruled out"). */
export const NEGATION_POST = [
  'ruled out', 'unlikely', 'was negative', 'is negative', 'were negative', 'absent', 'resolved', 'free', 'denied',
];

/** Words that end a negation's scope (besides sentence punctuation). */
export const SCOPE_TERMINATORS = [
  'but', 'however', 'although', 'though', 'except', 'apart', 'aside', 'yet', 'which', 'who', 'whereas', 'while',
  'still',
];

export const UNITS = [
  'mg', 'mcg', 'µg', 'μg', 'ug', 'g', 'gm', 'kg', 'lb', 'lbs', 'oz', 'ml', 'l', 'dl', 'cc', 'unit', 'units', 'u', 'iu',
  'meq', 'mmol', 'mol', 'mmhg', 'bpm', '%', '°c', '°f', 'c', 'f', 'cm', 'mm', 'm', 'km', 'in', 'inch', 'inches', 'ft',
  'feet', 'hr', 'hrs', 'h', 'hour', 'hours', 'min', 'mins', 'minute', 'minutes', 'sec', 's', 'seconds', 'day', 'days',
  'd', 'wk', 'wks', 'week', 'weeks', 'mo', 'month', 'months', 'yr', 'yrs', 'year', 'years', 'puff', 'puffs', 'tab',
  'tabs', 'tablet', 'tablets', 'cap', 'caps', 'capsule', 'capsules', 'drop', 'drops', 'gtt', 'gtts', 'x', 'times',
  'mg/kg', 'mg/dl', 'mg/l', 'g/dl', 'mmol/l', 'meq/l', 'ml/hr', 'ml/h', 'l/min', 'mcg/kg/min', 'mg/m2', 'iu/l', 'u/l',
  'dose', 'doses', 'cycles', 'sessions', 'refills', 'breaths', 'beats', 'pack', 'packs', 'servings', 'episodes',
  'pounds', 'kilograms', 'degrees', 'liters', 'milligrams',
];

export const DOSE_WORDS = [
  'qd', 'qday', 'daily', 'bid', 'b.i.d.', 'tid', 't.i.d.', 'qid', 'q.i.d.', 'qhs', 'hs', 'qam', 'qpm', 'qod', 'prn',
  'p.r.n.', 'po', 'p.o.', 'iv', 'i.v.', 'im', 'i.m.', 'sc', 'sq', 'subq', 'subcut', 'sl', 'pr', 'inh', 'neb', 'od',
  'os', 'ou', 'stat', 'once', 'twice', 'thrice', 'nightly', 'weekly', 'monthly', 'hourly', 'bolus', 'drip', 'taper',
];

export const NUMBER_WORDS = [
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
  'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty', 'thirty', 'forty',
  'fifty', 'sixty', 'seventy', 'eighty', 'ninety', 'hundred', 'thousand', 'million', 'half', 'quarter', 'single',
  'double', 'triple', 'first', 'second', 'third', 'fourth', 'fifth', 'couple', 'several', 'few', 'dozen', 'both',
];

export const ABBREVIATIONS = [
  'bp', 'hr', 'rr', 'spo2', 'sao2', 'o2', 'temp', 'wt', 'ht', 'bmi', 'copd', 'chf', 'cad', 'mi', 'stemi', 'nstemi',
  'htn', 'dm', 'dm2', 't2dm', 'ckd', 'esrd', 'aki', 'gerd', 'uti', 'uri', 'sob', 'doe', 'cp', 'n/v', 'abd', 'ha',
  'loc', 'gi', 'gu', 'ent', 'heent', 'cv', 'pulm', 'neuro', 'psych', 'msk', 'ed', 'er', 'icu', 'ccu', 'or', 'pacu',
  'ekg', 'ecg', 'echo', 'cxr', 'ct', 'cta', 'mri', 'us', 'cbc', 'bmp', 'cmp', 'lfts', 'inr', 'ptt', 'pt', 'bnp',
  'trop', 'hba1c', 'a1c', 'tsh', 'esr', 'crp', 'wbc', 'rbc', 'hgb', 'hct', 'plt', 'bun', 'cr', 'gfr', 'egfr', 'na', 'k',
  'cl', 'co2', 'ua', 'ucx', 'bcx', 'abg', 'vbg', 'pe', 'dvt', 'cva', 'tia', 'sah', 'ich', 'afib', 'af', 'vt', 'vf',
  'svt', 'nsr', 'lbbb', 'rbbb', 'pna', 'cap', 'hcap', 'ards', 'osa', 'ra', 'oa', 'sle', 'ibd', 'ibs', 'uc', 'hiv',
  'hcv', 'hbv', 'tb', 'std', 'sti', 'bph', 'pvd', 'pad', 'aaa', 'hx', 'pmh', 'psh', 'fh', 'sh', 'ros', 'hpi', 'cc',
  'dx', 'ddx', 'tx', 'rx', 'sx', 'fx', 'bx', 'pt', 'pts', 'yo', 'y/o', 'm', 'f', 'nkda', 'nka', 'etoh', 'ivdu', 'prn',
  'npo', 'dnr', 'dni', 'ama', 'lmp', 'g1p0', 'c/o', 's/p', 'h/o', 'w/', 'r/o', 'f/u', 'a&o', 'aox3', 'perrla', 'eomi',
  'rrr', 'ctab', 'ntnd', 'nad', 'jvd', 'cvat', 'rlq', 'ruq', 'llq', 'luq', 'ams', 'gcs', 'nihss', 'lvef', 'ef',
];

/** Common generic drug names (clinical top-300 style). */
export const DRUGS = [
  'acetaminophen', 'paracetamol', 'ibuprofen', 'naproxen', 'aspirin', 'ketorolac', 'celecoxib', 'diclofenac',
  'metformin', 'insulin', 'glipizide', 'glyburide', 'glimepiride', 'sitagliptin', 'linagliptin', 'pioglitazone',
  'empagliflozin', 'dapagliflozin', 'canagliflozin', 'liraglutide', 'semaglutide', 'dulaglutide', 'lisinopril',
  'enalapril', 'ramipril', 'benazepril', 'losartan', 'valsartan', 'irbesartan', 'olmesartan', 'telmisartan',
  'amlodipine', 'nifedipine', 'diltiazem', 'verapamil', 'metoprolol', 'atenolol', 'carvedilol', 'propranolol',
  'labetalol', 'bisoprolol', 'nebivolol', 'hydrochlorothiazide', 'chlorthalidone', 'furosemide', 'bumetanide',
  'torsemide', 'spironolactone', 'eplerenone', 'hydralazine', 'clonidine', 'isosorbide', 'nitroglycerin', 'digoxin',
  'amiodarone', 'sotalol', 'flecainide', 'atorvastatin', 'simvastatin', 'rosuvastatin', 'pravastatin', 'lovastatin',
  'ezetimibe', 'fenofibrate', 'gemfibrozil', 'warfarin', 'heparin', 'enoxaparin', 'apixaban', 'rivaroxaban',
  'dabigatran', 'edoxaban', 'clopidogrel', 'ticagrelor', 'prasugrel', 'levothyroxine', 'methimazole',
  'propylthiouracil', 'prednisone', 'prednisolone', 'methylprednisolone', 'dexamethasone', 'hydrocortisone',
  'budesonide', 'fluticasone', 'albuterol', 'salbutamol', 'levalbuterol', 'ipratropium', 'tiotropium', 'salmeterol',
  'formoterol', 'montelukast', 'omeprazole', 'pantoprazole', 'esomeprazole', 'lansoprazole', 'famotidine',
  'ranitidine', 'ondansetron', 'metoclopramide', 'promethazine', 'prochlorperazine', 'loperamide', 'docusate',
  'senna', 'bisacodyl', 'polyethylene', 'lactulose', 'amoxicillin', 'ampicillin', 'penicillin', 'piperacillin',
  'tazobactam', 'cephalexin', 'cefazolin', 'ceftriaxone', 'cefepime', 'cefdinir', 'cefuroxime', 'azithromycin',
  'clarithromycin', 'erythromycin', 'doxycycline', 'minocycline', 'tetracycline', 'ciprofloxacin', 'levofloxacin',
  'moxifloxacin', 'trimethoprim', 'sulfamethoxazole', 'nitrofurantoin', 'metronidazole', 'clindamycin', 'vancomycin',
  'linezolid', 'daptomycin', 'gentamicin', 'tobramycin', 'meropenem', 'imipenem', 'ertapenem', 'fluconazole',
  'itraconazole', 'voriconazole', 'nystatin', 'terbinafine', 'acyclovir', 'valacyclovir', 'oseltamivir',
  'tenofovir', 'emtricitabine', 'sertraline', 'fluoxetine', 'paroxetine', 'citalopram', 'escitalopram',
  'venlafaxine', 'duloxetine', 'bupropion', 'mirtazapine', 'trazodone', 'amitriptyline', 'nortriptyline',
  'lithium', 'quetiapine', 'olanzapine', 'risperidone', 'aripiprazole', 'haloperidol', 'clozapine', 'lorazepam',
  'alprazolam', 'clonazepam', 'diazepam', 'midazolam', 'zolpidem', 'melatonin', 'gabapentin', 'pregabalin',
  'levetiracetam', 'phenytoin', 'carbamazepine', 'valproate', 'lamotrigine', 'topiramate', 'sumatriptan',
  'morphine', 'hydromorphone', 'oxycodone', 'hydrocodone', 'fentanyl', 'tramadol', 'codeine', 'methadone',
  'buprenorphine', 'naloxone', 'naltrexone', 'cyclobenzaprine', 'baclofen', 'tizanidine', 'methotrexate',
  'hydroxychloroquine', 'sulfasalazine', 'allopurinol', 'colchicine', 'febuxostat', 'tamsulosin', 'finasteride',
  'oxybutynin', 'sildenafil', 'tadalafil', 'estradiol', 'progesterone', 'medroxyprogesterone', 'testosterone',
  'alendronate', 'calcitriol', 'cholecalciferol', 'ergocalciferol', 'potassium', 'magnesium', 'calcium',
  'ferrous', 'folic', 'cyanocobalamin', 'thiamine', 'epinephrine', 'norepinephrine', 'dopamine', 'dobutamine',
  'vasopressin', 'phenylephrine', 'adenosine', 'atropine', 'lidocaine', 'propofol', 'ketamine', 'etomidate',
  'succinylcholine', 'rocuronium', 'diphenhydramine', 'cetirizine', 'loratadine', 'fexofenadine', 'hydroxyzine',
  'benzonatate', 'guaifenesin', 'dextromethorphan', 'pseudoephedrine', 'nicotine', 'varenicline', 'tylenol',
  'advil', 'motrin', 'aleve', 'lasix', 'coumadin', 'eliquis', 'xarelto', 'plavix', 'lipitor', 'zocor', 'crestor',
  'synthroid', 'glucophage', 'zoloft', 'prozac', 'xanax', 'ativan', 'valium', 'ambien', 'percocet', 'vicodin',
  'norco', 'dilaudid', 'zofran', 'protonix', 'prilosec', 'nexium', 'augmentin', 'keflex', 'zithromax', 'cipro',
  'levaquin', 'bactrim', 'flagyl', 'lantus', 'humalog', 'novolog', 'ozempic', 'jardiance', 'farxiga', 'entresto',
];

/** Drug-name stems (USAN): a word ending in one of these is treated as a drug name. */
export const DRUG_SUFFIXES = [
  'pril', 'sartan', 'olol', 'alol', 'statin', 'dipine', 'prazole', 'tidine', 'parin', 'xaban', 'gatran', 'gliptin',
  'glitazone', 'gliflozin', 'glutide', 'triptan', 'setron', 'cillin', 'mycin', 'micin', 'floxacin', 'cycline',
  'conazole', 'ciclovir', 'clovir', 'navir', 'tegravir', 'buvir', 'mab', 'nib', 'zumab', 'ximab', 'caine', 'azepam',
  'azolam', 'barbital', 'oxetine', 'triptyline', 'apine', 'idone', 'codone', 'morphone', 'profen', 'sone', 'olone',
  'terol', 'tropium', 'lukast', 'semide', 'thiazide', 'dronate', 'relin', 'tide', 'vastatin', 'pam', 'lam',
];

/** PHI placeholders: medtune deid tags [NAME], [NAME:3f9a…], Presidio <PERSON>, MIMIC [** … **]. */
export const PHI_TAG = /\[\*\*[^\]]*\*\*\]|\[[A-Z][A-Z_]+(?::[0-9a-f]+)?\]|<[A-Z][A-Z_]+>/g;

/** NLTK's English stop words; negation words are never removed (see clean.ts). */
export const STOP_WORDS = [
  'i', 'me', 'my', 'myself', 'we', 'our', 'ours', 'ourselves', 'you', 'your', 'yours', 'yourself', 'yourselves', 'he',
  'him', 'his', 'himself', 'she', 'her', 'hers', 'herself', 'it', 'its', 'itself', 'they', 'them', 'their', 'theirs',
  'themselves', 'what', 'which', 'who', 'whom', 'this', 'that', 'these', 'those', 'am', 'is', 'are', 'was', 'were',
  'be', 'been', 'being', 'have', 'has', 'had', 'having', 'do', 'does', 'did', 'doing', 'a', 'an', 'the', 'and', 'but',
  'if', 'or', 'because', 'as', 'until', 'while', 'of', 'at', 'by', 'for', 'with', 'about', 'against', 'between',
  'into', 'through', 'during', 'before', 'after', 'above', 'below', 'to', 'from', 'up', 'down', 'in', 'out', 'on',
  'off', 'over', 'under', 'again', 'further', 'then', 'once', 'here', 'there', 'when', 'where', 'why', 'how', 'all',
  'any', 'both', 'each', 'few', 'more', 'most', 'other', 'some', 'such', 'no', 'nor', 'not', 'only', 'own', 'same',
  'so', 'than', 'too', 'very', 's', 't', 'can', 'will', 'just', 'don', 'should', 'now',
];

const suffixRe = new RegExp(`^[a-z]{3,}(?:${DRUG_SUFFIXES.join('|')})$`);
const drugSet = new Set(DRUGS);

/** A known drug name or a word with a drug-name stem (lower case). */
export function isDrugName(word: string): boolean {
  const w = word.toLowerCase();
  return drugSet.has(w) || (w.length >= 7 && suffixRe.test(w));
}
