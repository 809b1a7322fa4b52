<?php
// Interop driver: PHP SoapClient (WSDL mode) runs tests/interop/scenario.json against the gateway.
// Usage: php driver.php WSDL_URL SCENARIO_JSON (HTTP Basic from INTEROP_USER / INTEROP_PASSWORD).
// Prints one JSON line per step.

function connect(string $wsdl): SoapClient
{
    $options = [
        'features' => SOAP_SINGLE_ELEMENT_ARRAYS,   // a one-row result is still an array
        'cache_wsdl' => WSDL_CACHE_NONE,            // a changed WSDL is seen at once
        'exceptions' => true,
        'connection_timeout' => 30,
    ];
    if (getenv('INTEROP_USER')) {
        $options['login'] = getenv('INTEROP_USER');
        $options['password'] = (string) getenv('INTEROP_PASSWORD');
        $options['authentication'] = SOAP_AUTHENTICATION_BASIC;
    }
    ini_set('default_socket_timeout', '30');        // the read timeout of every call
    return new SoapClient($wsdl, $options);
}

// An array result is its wrapper object; the rows are its `Row` property, absent when empty.
function rows($result): array
{
    return isset($result->Row) ? $result->Row : [];
}

// The same for the gateway's own arrays, whose items are named `Result`, `Payment`, `Day`.
function items($result, string $name): array
{
    return isset($result->$name) ? $result->$name : [];
}

// ext/soap hands restrictions of xs:decimal over as text, exact; anything else would show here.
function dec($value): string
{
    return is_string($value) ? $value : var_export($value, true);
}

// Exact difference of two decimal texts with two fraction digits, in kopecks: no float on the way.
function money_delta(string $after, string $before): string
{
    $cents = function (string $v): int {
        [$int, $frac] = array_pad(explode('.', ltrim($v, '-')), 2, '');
        $c = (int) $int * 100 + (int) str_pad(substr($frac, 0, 2), 2, '0');
        return str_starts_with($v, '-') ? -$c : $c;
    };
    $diff = $cents($after) - $cents($before);
    return sprintf('%s%d.%02d', $diff < 0 ? '-' : '', intdiv(abs($diff), 100), abs($diff) % 100);
}

final class Run
{
    private ?int $userId = null;
    private ?string $before = null;
    private ?int $paidId = null;
    private ?string $batchKey = null;
    private ?int $batchId = null;

    public function __construct(private SoapClient $client, private array $steps) {}

    private function args(string $step): array
    {
        return $this->steps[$step]['args'] ?? [];
    }

    public function wsdl(): array
    {
        $names = array_map(fn ($f) => preg_replace('/^\S+ (\w+)\(.*$/', '$1', $f), $this->client->__getFunctions());
        sort($names);
        return ['operations' => array_values(array_unique($names))];
    }

    public function find(): array
    {
        $found = rows($this->client->CLN_USR_FIND_2(['CONTRACT_NUMBER_IN' => $this->args('find')['CONTRACT_NUMBER_IN']])
            ->CLN_USR_FIND_2Result);
        $this->userId = $found[0]->ID;
        return ['count' => count($found), 'ID' => $found[0]->ID, 'IDENTIFY' => $found[0]->IDENTIFY,
                'BALANCE' => dec($found[0]->BALANCE)];
    }

    public function read(): array
    {
        $user = $this->client->CLN_USR_GET(['SELECT_ID' => $this->userId])->CLN_USR_GETResult;
        $this->before = dec($user->BALANCE);
        return ['NAME' => $user->NAME, 'CONTRACT_NUMBER' => $user->CONTRACT_NUMBER, 'BALANCE' => dec($user->BALANCE),
                'NEXT_AUTO_ACOUNT' => $user->NEXT_AUTO_ACOUNT, 'DISABLED_DATE' => $user->DISABLED_DATE];
    }

    public function pay(): array
    {
        $a = $this->args('pay');
        $posted = $this->client->CLN_FIN_OPER_ADD([
            'USER_ID' => $this->userId, 'OP_DATE' => $a['OP_DATE'], 'SUMMA' => $a['SUMMA'],
            'DESCR' => $a['DESCR'], 'NUMBER' => $a['NUMBER'], 'IDEMPOTENCY_KEY' => bin2hex(random_bytes(16)),
        ])->CLN_FIN_OPER_ADDResult;
        $this->paidId = $posted->ID;
        return ['ID' => $posted->ID];
    }

    public function balance(): array
    {
        $after = dec($this->client->CLN_USR_GET(['SELECT_ID' => $this->userId])->CLN_USR_GETResult->BALANCE);
        return ['BALANCE' => $after, 'delta' => money_delta($after, $this->before)];
    }

    public function operation(): array
    {
        $a = $this->args('operation');
        $listed = rows($this->client->CLN_FIN_OPER([
            'USER_ID' => $this->userId, 'DATEL' => $a['DATEL'], 'DATEH' => $a['DATEH'],
        ])->CLN_FIN_OPERResult);
        $mine = array_values(array_filter($listed, fn ($op) => $op->ID === $this->paidId));
        $op = $mine[0];
        return ['matches' => count($mine), 'SUMMA' => dec($op->SUMMA), 'NUMBER' => $op->NUMBER,
                'DESCR' => $op->DESCR, 'OP_DATE' => $op->OP_DATE];
    }

    public function homes(): array
    {
        $homes = rows($this->client->CLN_HOME_LIST([])->CLN_HOME_LISTResult);
        $cities = array_values(array_unique(array_map(fn ($h) => $h->CITY, $homes)));
        sort($cities);
        return ['count' => count($homes), 'cities' => $cities];
    }

    public function home_one(): array
    {
        $homes = rows($this->client->CLN_HOME_LIST(['P_ID' => $this->args('home_one')['P_ID']])->CLN_HOME_LISTResult);
        return ['count' => count($homes), 'CITY' => $homes[0]->CITY, 'STREET' => $homes[0]->STREET,
                'S_NUMBER' => $homes[0]->S_NUMBER, 'CONNECT_DATE' => $homes[0]->CONNECT_DATE];
    }

    public function home_none(): array
    {
        $result = $this->client->CLN_HOME_LIST(['P_ID' => $this->args('home_none')['P_ID']])->CLN_HOME_LISTResult;
        return ['count' => count(rows($result)), 'empty_as' => json_encode($result)];
    }

    public function batch(): array
    {
        // An array of complex input: the wrapper's `Line` is a list of arrays; a field left out is not sent.
        $lines = array_map(fn ($line) => ['IDEMPOTENCY_KEY' => bin2hex(random_bytes(16))] + $line,
                           $this->args('batch')['LINES']);
        $first = items($this->client->GatewayPostPayments(['LINES' => ['Line' => $lines]])->GatewayPostPaymentsResult,
                      'Result');
        $again = items($this->client->GatewayPostPayments(['LINES' => ['Line' => $lines]])->GatewayPostPaymentsResult,
                      'Result');
        $this->batchKey = $first[0]->IDEMPOTENCY_KEY;
        $this->batchId = $first[0]->ID;
        $field = fn (array $results, string $name) => array_map(fn ($r) => $r->$name ?? null, $results);
        return ['LINE' => $field($first, 'LINE'), 'STATUS' => $field($first, 'STATUS'),
                'USER_ID' => $field($first, 'USER_ID'), 'CODE' => $field($first, 'CODE'),
                'again' => $field($again, 'STATUS'), 'same_ids' => $field($again, 'ID') === $field($first, 'ID')];
    }

    public function reconcile(): array
    {
        $a = $this->args('reconcile');
        $report = $this->client->GatewayReconcile(['FROM' => $a['FROM'], 'TO' => $a['TO'], 'USER_ID' => $a['USER_ID']])
            ->GatewayReconcileResult;
        $mine = array_values(array_filter(items($report->PAYMENTS, 'Payment'),
                                          fn ($p) => ($p->IDEMPOTENCY_KEY ?? null) === $this->batchKey))[0];
        $days = items($report->DAYS, 'Day');
        return ['KIND' => $mine->KIND, 'JOURNAL_STATE' => $mine->JOURNAL_STATE, 'BILLING_SUMMA' => dec($mine->BILLING_SUMMA),
                'same_id' => $mine->BILLING_ID === $this->batchId, 'days' => count($days), 'DAY' => $days[0]->DAY,
                'balanced' => money_delta(dec($days[0]->JOURNAL_SUMMA), dec($days[0]->BILLING_SUMMA)) === '0.00'];
    }

    public function fault(): array
    {
        $a = $this->args('fault');
        try {
            $this->client->CLN_FIN_OPER_ADD([
                'USER_ID' => $this->userId, 'OP_DATE' => $a['OP_DATE'], 'SUMMA' => $a['SUMMA'], 'NUMBER' => $a['NUMBER'],
            ]);
        } catch (SoapFault $fault) {
            $code = preg_replace('/^.*:/', '', $fault->faultcode);
            return ['faultcode' => $code, 'faultstring' => $fault->faultstring,
                    'detail_code' => $fault->detail->GatewayFault->code ?? null];
        }
        throw new RuntimeException('no fault');
    }
}

[$_, $wsdl, $scenarioPath] = $argv;
$steps = [];
foreach (json_decode(file_get_contents($scenarioPath), true)['steps'] as $step) {
    $steps[$step['id']] = $step;
}
$run = null;
foreach (array_keys($steps) as $step) {
    try {
        $run ??= new Run(connect($wsdl), $steps);
        $line = ['step' => $step, 'observed' => $run->$step()];
    } catch (Throwable $e) {   // every failure is a matrix cell, not a crash of the driver
        $line = ['step' => $step, 'error' => get_class($e) . ': ' . $e->getMessage()];
    }
    echo json_encode($line, JSON_UNESCAPED_UNICODE), "\n";
}
